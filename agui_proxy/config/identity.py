"""``forward_identity`` of an upstream: who the user is, told to the provider for its abuse detection.

A plain field of each upstream (``upstreams.py``); :func:`check_identity` holds it, and the access
log's ``logging.identity``, to what the other sections allow.
"""

from __future__ import annotations

from pydantic import field_validator, model_validator

from .operations import LoggingConfig
from .strict import HEADER_NAME, Strict

# The body field each provider reads the end user from (abuse detection): OpenAI's "user",
# Anthropic's "metadata.user_id".  Gemini's API has none.
PROVIDER_USER_FIELDS: dict[str, tuple[str, ...]] = {
    "openai-chat": ("user",),
    "openai-responses": ("user",),
    "anthropic": ("metadata", "user_id"),
}


class ForwardIdentityConfig(Strict):
    """``forward_identity`` of an upstream: who the user is, for the provider's abuse detection."""

    header: str | None = None  # a request header carrying the identity, e.g. x-user-id
    # The provider's own field: OpenAI's "user", Anthropic's "metadata.user_id" (Gemini has none).
    provider_field: bool = False

    @field_validator("header")
    @classmethod
    def _header_name(cls, name: str | None) -> str | None:
        if name is None:
            return None
        lowered = name.strip().lower()
        if not HEADER_NAME.fullmatch(lowered) or lowered in ("authorization", "content-type", "host"):
            raise ValueError(f"{name!r} cannot carry the identity (a header name other than "
                             f"authorization, content-type, host)")
        return lowered

    @model_validator(mode="after")
    def _something(self) -> ForwardIdentityConfig:
        if self.header is None and not self.provider_field:
            raise ValueError("give header, provider_field: true, or both")
        return self


def check_identity(upstreams: dict[str, tuple[str, ForwardIdentityConfig | None]], logging: LoggingConfig) -> None:
    """The checks across sections; raises ``ValueError`` with the field in its message."""
    for name, (provider, forward) in upstreams.items():
        if forward is not None and forward.provider_field and provider not in PROVIDER_USER_FIELDS:
            raise ValueError(f"upstreams.{name}.forward_identity.provider_field: {provider} has no end-user "
                             f"field (only {', '.join(sorted(PROVIDER_USER_FIELDS))}); use header")
    if logging.identity == "hash" and not (logging.identity_hash_key or "").strip():
        raise ValueError("logging.identity: hash needs logging.identity_hash_key (a secret, the same in every "
                         "replica, so one user hashes the same everywhere)")
