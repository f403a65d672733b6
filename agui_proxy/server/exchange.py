"""What the shell learns about one request while serving it, counted and logged when it ends.

An :class:`Exchange` is made when a request arrives (with its request id), filled in by the code
that serves it (the route and upstream, the response status, the first upstream byte, the run's
:class:`~agui_proxy.core.stream.RunStream`), and read once at the end by the metrics and the
access log.  It holds no message content unless ``logging.debug_content`` asks for it.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.types import Scope

from ..core.events import TokenUsage
from ..core.stream import RunStream

if TYPE_CHECKING:  # tracing is imported only when on
    from ..tracing.spans import RequestSpan

REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID = 128
# What an incoming X-Request-ID may hold: enough for UUIDs, ULIDs, W3C trace ids and the usual
# "service/uuid" shapes, nothing that could break a log line (spaces, quotes, control characters).
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:/+=@-]{1,%d}$" % MAX_REQUEST_ID)

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
            if _SAFE_REQUEST_ID.match(value):
                return bytes(value).decode("ascii")
            break
    return uuid.uuid4().hex


@dataclass(slots=True)
class Exchange:
    request_id: str
    method: str
    path: str
    route: str = "-"      # the configured route path ("-": none); bounded, so a metrics label
    upstream: str = "-"   # the upstream that served it; a fallback replaces it
    started: float = field(default_factory=time.monotonic)
    status: int = 0
    error: str | None = None  # why it was rejected (the JSON error's type) or why it failed
    preflight: bool = False
    stream: RunStream | None = None
    first_byte: float | None = None   # the first chunk of the upstream's body
    first_event: float | None = None  # the first AG-UI event made from upstream content
    ended: float | None = None
    trace_id: str | None = None  # the request's OpenTelemetry trace (tracing on only)
    span: RequestSpan | None = None  # its server span (tracing on only)
    request_body: bytearray | None = None   # logging.debug_content only
    response_body: bytearray | None = None  # logging.debug_content only

    @classmethod
    def begin(cls, scope: Scope, route: str = "-", upstream: str = "-") -> Exchange:
        return cls(request_id_from(scope), scope["method"], scope["path"], route, upstream)

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
        return self.stream is not None

    @property
    def outcome(self) -> str:
        if self.error == INTERNAL:
            return INTERNAL
        if self.stream is not None:
            if self.stream.error is not None:
                return ERROR
            return OK if self.stream.ended else DISCONNECTED
        if self.status >= 400 or self.error is not None:
            return REJECTED
        return PREFLIGHT if self.preflight else OK

    @property
    def error_code(self) -> str | None:
        """The RUN_ERROR code of a failed run, or the error type of a rejected request."""
        if self.stream is not None and self.stream.error is not None:
            return self.stream.error.code
        return self.error

    @property
    def usage(self) -> TokenUsage | None:
        return self.stream.run.usage if self.stream is not None else None

    def seconds(self, moment: float | None) -> float | None:
        """``moment`` as seconds since the request arrived."""
        return None if moment is None else moment - self.started

    @property
    def duration(self) -> float:
        return (self.ended or time.monotonic()) - self.started
