"""The tracer of one app: OpenTelemetry's SDK with the OTLP/HTTP exporter.

Imported only when tracing is on (``agui_proxy/tracing/__init__.py``).  Where the spans go:

- the process already has an SDK tracer provider (the app the proxy is mounted in configured
  OpenTelemetry): the proxy's spans join it, and its exporters, sampler and resource apply;
- otherwise the proxy makes its own provider, not installed as the global one (it is the
  proxy's, not the host's), with a batch processor and the OTLP/HTTP exporter.  What the config
  leaves out, the SDK reads from the standard variables (``OTEL_EXPORTER_OTLP_*``,
  ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``).

Spans are exported from the batch processor's thread, never from the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from starlette.types import ASGIApp

from ..config import Config, TracingConfig
from ..config.tracing import DEFAULT_SERVICE_NAME
from ..core.redact import NO_SECRETS, Redactor
from ..version import __version__
from .genai import operation_name, provider_name, server_address
from .spans import ServerSpan, UpstreamFacts

INSTRUMENTATION = "agui_proxy"


def _resource(config: TracingConfig) -> Resource:
    attributes: dict[str, str] = {SERVICE_VERSION: __version__}
    if config.service_name:
        attributes[SERVICE_NAME] = config.service_name
    resource = Resource.create(attributes)  # with OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return resource


def _sampler(config: TracingConfig) -> Sampler | None:
    # None: the SDK's choice from OTEL_TRACES_SAMPLER (default: parent-based, every trace).
    return None if config.sample_ratio is None else ParentBased(TraceIdRatioBased(config.sample_ratio))


class Tracing:
    """The tracer of an app and what its spans need to know of the config."""

    def __init__(self, config: Config, redactor: Redactor = NO_SECRETS) -> None:
        settings = config.tracing
        self.trust_traceparent = settings.trust_traceparent
        self.propagate_to = frozenset(settings.propagate_to)
        self.debug_content = config.logging.debug_content
        self._redactor = redactor  # the app's: its keys, its tokens, the collector's headers
        self.upstreams: Mapping[str, UpstreamFacts] = {
            name: UpstreamFacts(operation_name(up), provider_name(up), server_address(up))
            for name, up in config.upstreams.items()}
        self._own: TracerProvider | None = None
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            provider = current
        else:
            provider = self._own = TracerProvider(resource=_resource(settings), sampler=_sampler(settings))
            # endpoint / headers None: the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT / _HEADERS.
            exporter = OTLPSpanExporter(endpoint=settings.endpoint, headers=dict(settings.headers) or None)
            provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = provider.get_tracer(INSTRUMENTATION, __version__)

    def redact(self, text: str) -> str:
        return self._redactor(text)

    def server_span(self, app: ASGIApp) -> ServerSpan:
        """``app`` with a server span around each request (inside its request context)."""
        return ServerSpan(app, self)

    def close(self) -> None:
        """Export what is still buffered and stop (the app's own provider only)."""
        if self._own is not None:
            own, self._own = self._own, None
            own.shutdown()
