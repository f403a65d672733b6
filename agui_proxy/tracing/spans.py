"""The spans of one request: a server span for the request, a client span per upstream try.

Server span, ``POST /api/agent`` (kind SERVER): ``http.request.method``, ``http.route``,
``http.response.status_code``, ``agui_proxy.request_id``, ``agui_proxy.outcome`` and
``error.type`` (the ``RUN_ERROR`` code, or the refused request's error type), with the events
``retry`` and ``fallback`` as the run moves between tries.  Its parent is the span current in
the process (an app that traces and mounts the proxy), else the client's W3C ``traceparent``
when ``tracing.trust_traceparent`` (the default).

Client span per try, ``chat gpt-4o`` (kind CLIENT), with the GenAI semantic conventions:
``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens`` / ``output_tokens``,
``gen_ai.response.finish_reasons``, ``server.address`` / ``server.port``, and a
``first_token`` event when the first event made from the upstream's answer went to the client.
An upstream listed in ``tracing.propagate_to`` gets the try's ``traceparent``.

No header and no message content is ever an attribute; with ``logging.debug_content`` on, the
request body and the streamed response (what the access line holds) are, redacted.  Attributes
are set when a try or the request ends, never per chunk.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, format_trace_id
from starlette.types import ASGIApp, Receive, Scope, Send

from ..core.pipeline import RunPipeline
from ..errors import RunError, UpstreamHTTPError
from ..middleware.context import ERROR, INTERNAL, RequestContext, request_context
from ..providers import ProviderRequest, UpstreamRequest
from ..upstream.chain import Target
from ..upstream.retries import RunObserver, Unobserved

_TRACE_HEADERS = (b"traceparent", b"tracestate")


class UpstreamFacts(NamedTuple):
    operation: str  # gen_ai.operation.name
    provider: str  # gen_ai.provider.name
    address: tuple[str, int] | None  # server.address, server.port


class Tracing(Protocol):
    """What the spans read of the app's tracing (``setup.Tracing``)."""

    tracer: Tracer
    trust_traceparent: bool
    propagate_to: frozenset[str]
    debug_content: bool
    upstreams: Mapping[str, UpstreamFacts]

    def redact(self, text: str) -> str: ...


def _epoch_ns(moment: float) -> int:
    """A ``time.monotonic()`` moment as the wall-clock nanoseconds spans are stamped with."""
    return time.time_ns() - int((time.monotonic() - moment) * 1e9)


def _parent(scope: Scope, trust_traceparent: bool) -> Context | None:
    """The span current in the process if any, else the client's traceparent (if trusted)."""
    if trace.get_current_span().get_span_context().is_valid or not trust_traceparent:
        return None  # None: the current context (an empty one starts a new trace)
    carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
               if name in _TRACE_HEADERS}
    return propagate.extract(carrier) if carrier else None


class ServerSpan:
    """The pure ASGI piece of a route's chain that makes its request a server span (inside the
    request context, outside the recorder, so the access line has the trace id)."""

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = request_context(scope)
        span = context.span = RequestSpan(self.tracing, scope, context)
        try:
            await self.app(scope, receive, send)
        finally:
            context.end()
            span.end(context)


class RequestSpan:
    """The server span of one request; :meth:`observer` traces its upstream tries."""

    __slots__ = ("span", "tracing")

    def __init__(self, tracing: Tracing, scope: Scope, context: RequestContext) -> None:
        self.tracing = tracing
        attributes = {"http.request.method": context.method, "http.route": context.route,
                      "url.path": tracing.redact(context.path), "agui_proxy.request_id": context.request_id}
        self.span = tracing.tracer.start_span(f"{context.method} {context.route}", kind=SpanKind.SERVER,
                                              context=_parent(scope, tracing.trust_traceparent),
                                              attributes=attributes)
        span_context = self.span.get_span_context()
        if span_context.is_valid:
            context.trace_id = format_trace_id(span_context.trace_id)

    def observer(self, inner: RunObserver, targets: Sequence[Target], context: RequestContext) -> RunObserver:
        return TriesTracer(self, inner, {target.name: target for target in targets}, context)

    def end(self, context: RequestContext) -> None:
        span = self.span
        if not span.is_recording():
            span.end()
            return
        span.set_attribute("http.response.status_code", context.status)
        span.set_attribute("agui_proxy.outcome", context.outcome)
        if context.upstream != "-":
            span.set_attribute("agui_proxy.upstream", context.upstream)
        if (code := context.error_code) is not None:
            span.set_attribute("error.type", code)
        if (first := context.seconds(context.first_event)) is not None:
            span.set_attribute("agui_proxy.first_event_ms", round(first * 1000))
        if self.tracing.debug_content:
            for name in ("request_body", "response_body"):
                kept = getattr(context, name)
                if kept is not None:
                    text = bytes(kept).decode("utf-8", "replace")
                    span.set_attribute(f"agui_proxy.{name}", self.tracing.redact(text))
        if context.outcome in (ERROR, INTERNAL) or context.status >= 500:
            span.set_status(Status(StatusCode.ERROR, code))
        span.end()


class TriesTracer(Unobserved):
    """A client span per upstream try, around the app's own observer (which it passes every call)."""

    __slots__ = ("_context", "_inner", "_pipeline", "_request", "_span", "_started", "_targets", "_tries")

    def __init__(self, request: RequestSpan, inner: RunObserver, targets: Mapping[str, Target],
                 context: RequestContext) -> None:
        self._request = request
        self._inner = inner
        self._targets = targets
        self._context = context
        self._span: Span | None = None
        self._pipeline: RunPipeline | None = None
        self._started = 0.0  # time.monotonic() when the open try began
        self._tries = 0

    def attempt(self, upstream: str, pipeline: RunPipeline, retry: bool) -> None:
        self._inner.attempt(upstream, pipeline, retry)
        self._end_try(None)
        tracing = self._request.tracing
        facts = tracing.upstreams[upstream]
        model = _model_of(self._targets[upstream]) if upstream in self._targets else ""
        self._tries += 1
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": facts.operation, "gen_ai.provider.name": facts.provider,
            "gen_ai.request.model": model, "agui_proxy.upstream": upstream, "agui_proxy.try": self._tries}
        if facts.address is not None:
            attributes["server.address"], attributes["server.port"] = facts.address
        self._span = tracing.tracer.start_span(f"{facts.operation} {model}", kind=SpanKind.CLIENT,
                                               context=trace.set_span_in_context(self._request.span),
                                               attributes=attributes)
        self._pipeline = pipeline
        self._started = time.monotonic()

    def outbound(self, upstream: str, request: ProviderRequest) -> ProviderRequest:
        request = self._inner.outbound(upstream, request)
        if (self._span is None or not isinstance(request, UpstreamRequest)
                or upstream not in self._request.tracing.propagate_to):
            return request
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(self._span))
        return dataclasses.replace(request, headers={**request.headers, **carrier})

    def attempt_ended(self, error: RunError | None) -> None:
        self._inner.attempt_ended(error)
        self._end_try(error)

    def retrying(self, upstream: str, retry: int, delay: float, error: RunError) -> None:
        self._inner.retrying(upstream, retry, delay, error)
        self._request.span.add_event("retry", {"agui_proxy.upstream": upstream, "agui_proxy.retry": retry,
                                               "agui_proxy.backoff_s": round(delay, 3), "error.type": error.code})

    def fallback(self, from_upstream: str, to_upstream: str) -> None:
        self._inner.fallback(from_upstream, to_upstream)
        self._request.span.add_event("fallback", {"agui_proxy.from_upstream": from_upstream,
                                                  "agui_proxy.to_upstream": to_upstream})

    def chunk(self, out: bytes) -> None:
        self._inner.chunk(out)

    def _end_try(self, error: RunError | None) -> None:
        span, pipeline = self._span, self._pipeline
        if span is None or pipeline is None:
            return
        self._span = self._pipeline = None
        if span.is_recording():
            # Output starts in the try that serves the run (earlier ones failed before any), so
            # the request's first event is this try's first token.
            first = self._context.first_event
            if pipeline.output_started and first is not None and first >= self._started:
                span.add_event("first_token", timestamp=_epoch_ns(first))
                span.set_attribute("agui_proxy.time_to_first_token_ms", round((first - self._started) * 1000))
            _try_results(span, pipeline, error)
        span.end()


def _model_of(target: Target) -> str:
    """The model the try asks for: the provider's (a model the client picked), else the upstream's."""
    model = getattr(getattr(target.provider, "settings", None), "model", None)
    return model if isinstance(model, str) and model else target.upstream.model


def _try_results(span: Span, pipeline: RunPipeline, error: RunError | None) -> None:
    run = pipeline.run
    usage = run.usage
    if usage is not None:
        if usage.model:
            span.set_attribute("gen_ai.response.model", usage.model)
        if usage.input_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
        if usage.output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    if run.finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [run.finish_reason])
    error = error or pipeline.error
    if error is not None:
        span.set_attribute("error.type", error.code)
        if isinstance(error, UpstreamHTTPError):
            span.set_attribute("http.response.status_code", error.status)
        span.set_status(Status(StatusCode.ERROR, error.code))
