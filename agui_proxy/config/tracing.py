"""The ``tracing:`` section: OpenTelemetry traces over OTLP/HTTP (docs/operations.md, "Tracing").

Off unless asked for, by ``tracing.enabled: true`` or, with ``enabled`` left out, by the
standard OpenTelemetry environment variables (:func:`TracingConfig.is_on`).  What is not set
here falls back to those variables, read by the SDK itself: the collector's address
(``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``), its headers, the
service name (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``) and the sampler
(``OTEL_TRACES_SAMPLER``).  Nothing here imports OpenTelemetry: with tracing off it is never
imported (``agui_proxy/tracing``).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, field_validator

from .strict import Strict, http_url

DEFAULT_SERVICE_NAME = "agui-proxy"
# The variables that turn tracing on when tracing.enabled is not set (the OTLP exporter's own).
_ON_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class TracingConfig(Strict):
    enabled: bool | None = None  # None: on when the OTEL_* variables ask for it
    endpoint: str | None = None  # the OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces
    headers: dict[str, str] = Field(default_factory=dict, repr=False)  # to the collector: secrets
    service_name: str | None = None  # None: OTEL_SERVICE_NAME, else "agui-proxy"
    sample_ratio: float | None = Field(None, ge=0, le=1)  # None: OTEL_TRACES_SAMPLER, else every trace
    # A client's W3C traceparent continues its trace (false: every request starts a new one).
    trust_traceparent: bool = True
    # Upstreams whose requests carry traceparent (a service of yours that traces too); the
    # providers' public APIs do nothing with it, so none get it unless listed.
    propagate_to: list[str] = Field(default_factory=list)

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, endpoint: str | None) -> str | None:
        return None if endpoint is None else http_url(endpoint, "endpoint")

    def is_on(self, env: Mapping[str, str]) -> bool:
        """``enabled`` if set; else on when an OTLP endpoint variable is set or
        ``OTEL_TRACES_EXPORTER`` is ``otlp``, and ``OTEL_SDK_DISABLED`` is not ``true``."""
        if self.enabled is not None:
            return self.enabled
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return False
        exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
        if exporter:
            return exporter == "otlp"
        return any(env.get(name) for name in _ON_VARIABLES)

    @property
    def explicit(self) -> bool:
        """Asked for in the config (a missing SDK is an error then, not a warning)."""
        return self.enabled is True

    def secrets(self) -> list[str]:
        return [value for value in self.headers.values() if value]
