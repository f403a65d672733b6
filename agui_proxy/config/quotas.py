"""The ``quotas`` section of the config (docs/users-and-quotas.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .strict import Strict


class QuotaLimits(Strict):
    """Limits of one identity; an absent limit is no limit."""

    requests_per_minute: int | None = Field(None, ge=0)
    tokens_per_minute: int | None = Field(None, ge=0)  # input + output tokens, from the provider's usage
    tokens_per_day: int | None = Field(None, ge=0)
    concurrent_streams: int | None = Field(None, ge=0)

    def over(self, plan: QuotaLimits) -> QuotaLimits:
        """These limits with those ``plan`` names replacing them."""
        return self.model_copy(update=plan.model_dump(exclude_none=True))

    @property
    def empty(self) -> bool:
        return all(value is None for value in self.model_dump().values())


class PlansConfig(Strict):
    """A claim of the identity (a JWT's ``plan``, say) picks a plan's limits over ``per_identity``."""

    claim: str
    limits: dict[str, QuotaLimits] = Field(default_factory=dict)


class QuotasConfig(Strict):
    per_identity: QuotaLimits = QuotaLimits()
    plans: PlansConfig | None = None
    # Redis unreachable or too slow: let requests through (allow) or refuse them with 503 (deny).
    on_store_error: Literal["allow", "deny"] = "deny"
    error_log_interval: float = Field(60.0, gt=0)  # seconds between two log lines about store errors
    # A run that ends without the provider's usage (the client left, the upstream was cut) is charged
    # its streamed bytes divided by this: about 4 bytes per token of English text, plus the JSON
    # framing of each event, so the estimate errs high rather than letting a leaver off.
    bytes_per_token: float = Field(4.0, gt=0)
    # How long a stream's slot (concurrent_streams) outlives a process that died holding it: the
    # slot is a lease this long, renewed every third of it while its run goes on.  At least 5 s,
    # and well above store.timeout, so a renewal lands in time even when one call fails.
    stream_lease: float = Field(60.0, ge=5)

    @model_validator(mode="after")
    def _plans_named(self) -> QuotasConfig:
        if self.plans is not None and not self.plans.limits:
            raise ValueError("plans: give at least one plan under limits")
        return self

    @property
    def enabled(self) -> bool:
        plans = self.plans.limits.values() if self.plans is not None else ()
        return not self.per_identity.empty or any(not plan.empty for plan in plans)
