"""The request context: what the shell knows of one request, in its ASGI scope from start to end.

:class:`RequestContextMiddleware` is the outermost piece of every chain the app composes
(``app/stack.py``): it gives the request its id (the client's ``X-Request-ID`` when it is safe to log
and echo, else a new one), notes when it arrived, puts a :class:`RequestContext` in the scope
under :data:`CONTEXT_KEY`, echoes the id on the response, says in a ``Server-Timing`` header how
long the proxy took before it called the upstream (:func:`server_timing`), and notes its status.  The pieces inside
fill the rest in (the identity, once the auth piece knows it; the route handler: the upstream, the
run and its first bytes), and the recorder (``accounting.py``) reads it once when the request ends.
It holds no message content unless ``logging.debug_content`` asks for it.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.events import TokenUsage
from ..core.pipeline import RunPipeline
from ..tools.results import ToolCallRecord
from .identity import Identity


class RequestTrace(Protocol):
    """The request's server span, with tracing on (``tracing/spans.py`` RequestSpan; typed loosely
    here so that the context does not import tracing, which imports OpenTelemetry)."""

    def observer(self, inner: Any, targets: Sequence[Any], context: RequestContext) -> Any:
        """``inner`` (a run's RunObserver) wrapped to make a client span per upstream try."""

    def end(self, context: RequestContext) -> None:
        """The request ended: its outcome onto the span, and the span ended."""

CONTEXT_KEY = "agui_proxy.context"
REQUEST_ID_HEADER = b"x-request-id"
SERVER_TIMING_HEADER = b"server-timing"
MAX_REQUEST_ID = 128
# What an incoming X-Request-ID may hold: enough for UUIDs, ULIDs, W3C trace ids and the usual
# "service/uuid" shapes, nothing that could break a log line (spaces, quotes, control characters).
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,%d}" % MAX_REQUEST_ID)

# Outcomes, the ``outcome`` label of agui_proxy_requests_total and the access log's field.
OK = "ok"                      # the run ended with RUN_FINISHED, or a probe/preflight succeeded
ERROR = "error"                # the run ended with RUN_ERROR (error_code says why)
REJECTED = "rejected"          # refused before any stream started (4xx; error_code is the error type)
DISCONNECTED = "disconnected"  # the client left before the run ended
PREFLIGHT = "preflight"        # a CORS preflight was answered (allowed; a refused one is rejected)
INTERNAL = "internal_error"    # the proxy itself failed (a bug): the request ended with no answer


def request_id_from(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is safe to log and echo, else a new one."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if _SAFE_REQUEST_ID.fullmatch(value):
                return bytes(value).decode("ascii")
            break
    return uuid.uuid4().hex


@dataclass(slots=True)
class RequestContext:
    request_id: str
    method: str
    path: str
    route: str = "-"      # the configured route path ("-": none); bounded, so a metrics label
    upstream: str = "-"   # the upstream that served it; a fallback replaces it
    started: float = field(default_factory=time.monotonic)
    identity: Identity | None = None  # who sent it, once the auth piece knows (None: no auth configured)
    status: int = 0
    error: str | None = None  # why it was rejected (the JSON error's type) or why it failed
    preflight: bool = False
    run: RunPipeline | None = None      # the run being streamed to the client, once one starts
    # A resumable run's driver (runs/resumable.py): the run may go on after this response ends.
    outliving_run: asyncio.Future[None] | None = None
    upstream_called: float | None = None  # the first request to an upstream was about to be sent
    # The server tools a run with server_tools ran (runs/tool_loop_run.py), for metrics, log and spans.
    tool_calls: list[ToolCallRecord] | None = None
    first_byte: float | None = None   # the first chunk of the upstream's body
    first_event: float | None = None  # the first AG-UI event made from upstream content
    ended: float | None = None
    trace_id: str | None = None  # the request's OpenTelemetry trace (tracing on only)
    span: RequestTrace | None = None  # its server span (tracing on only)
    request_body: bytearray | None = None   # logging.debug_content only
    response_body: bytearray | None = None  # logging.debug_content only

    @classmethod
    def begin(cls, scope: Scope, route: str = "-", upstream: str = "-") -> RequestContext:
        return cls(request_id_from(scope), scope["method"], scope["path"], route, upstream)

    def calling_upstream(self) -> None:
        """The first request to an upstream is about to be sent (later tries do not move it)."""
        if self.upstream_called is None:
            self.upstream_called = time.monotonic()

    def upstream_chunk(self, out: bytes) -> None:
        """One chunk of the upstream's body was fed to the run and gave ``out`` to send."""
        if self.first_byte is None:
            self.first_byte = time.monotonic()
        if out and self.first_event is None:
            self.first_event = time.monotonic()

    def end(self) -> None:
        if self.ended is None:
            self.ended = time.monotonic()

    # -- read at the end ---------------------------------------------------------------------

    @property
    def streamed(self) -> bool:
        return self.run is not None

    @property
    def outcome(self) -> str:
        if self.error == INTERNAL:
            return INTERNAL
        if self.run is not None:
            if self.run.error is not None:
                return ERROR
            return OK if self.run.ended else DISCONNECTED
        if self.status >= 400 or self.error is not None:
            return REJECTED
        return PREFLIGHT if self.preflight else OK

    @property
    def error_code(self) -> str | None:
        """The RUN_ERROR code of a failed run, or the error type of a rejected request."""
        if self.run is not None and self.run.error is not None:
            return self.run.error.code
        return self.error

    @property
    def usage(self) -> TokenUsage | None:
        return self.run.run.usage if self.run is not None else None

    def seconds(self, moment: float | None) -> float | None:
        """``moment`` as seconds since the request arrived."""
        return None if moment is None else moment - self.started

    @property
    def duration(self) -> float:
        return (self.ended or time.monotonic()) - self.started


def server_timing(context: RequestContext) -> bytes:
    """The ``Server-Timing`` value of a response (W3C Server Timing, ``name;dur=<ms>``): ``proxy``,
    the milliseconds from the request's arrival until the proxy called the upstream, or, for a
    response that called none (an error of the proxy's own, a probe), until it began to answer.
    A browser's network panel shows it beside the request's own timing, so the proxy's share of
    the time to the first byte can be told from the upstream's."""
    until = context.upstream_called if context.upstream_called is not None else time.monotonic()
    return b"proxy;dur=%.2f" % ((until - context.started) * 1000.0)


def request_context(scope: Scope) -> RequestContext:
    """The context :class:`RequestContextMiddleware` put in ``scope``."""
    context: RequestContext = scope[CONTEXT_KEY]
    return context


class RequestContextMiddleware:
    """Puts a :class:`RequestContext` in the scope; echoes its id and notes the response status.

    ``route`` and ``upstream`` label the request in the metrics and the access log.
    """

    def __init__(self, app: ASGIApp, *, route: str = "-", upstream: str = "-") -> None:
        self.app = app
        self.route = route
        self.upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext.begin(scope, self.route, self.upstream)
        echo = (REQUEST_ID_HEADER, context.request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                context.status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echo,
                                                  (SERVER_TIMING_HEADER, server_timing(context))]}
            await send(message)

        try:
            # Set in the request's own scope, as uvicorn's proxy-headers piece and Starlette do, not
            # in a copy: a copy is a second dict of every key, held for the whole stream (about
            # 1 KB per open stream; bench/OPTIMISATIONS.md).
            scope[CONTEXT_KEY] = context
            await self.app(scope, receive, send_with_id)
        finally:
            context.end()
