"""Spans captured in the test process: the SDK's in-memory exporter behind the global provider.

The proxy's tracing uses the process's SDK tracer provider when there is one (as in an app that
configured OpenTelemetry and mounts the proxy), so installing one here, once per process (the
global provider can be set only once), captures every span an in-process app makes.  The SDK
comes with the test extra (``agui-proxy[otel]``).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

EXPORTER = InMemorySpanExporter()


def install() -> InMemorySpanExporter:
    """The exporter every span of this process ends in (cleared)."""
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)
    EXPORTER.clear()
    return EXPORTER


def by_kind(spans: tuple[ReadableSpan, ...], kind: trace.SpanKind) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.kind == kind), key=lambda s: s.start_time or 0)
