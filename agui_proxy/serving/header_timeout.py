"""``server.header_timeout``: connections that do not send complete request headers in time are closed.

uvicorn closes a kept-alive connection that stays silent after a response (``timeout_keep_alive``),
but nothing else: a connection that never sends a byte, or drips its headers a byte at a time, is
held for ever (1,500 idle connections were still open after 13 s, 300 header drippers after 40 s,
issue 15).  Like nginx's ``client_header_timeout`` and Go's ``ReadHeaderTimeout``, the protocols
here give a connection ``header_timeout`` seconds to complete the headers of its request, from the
moment it opens and again from the end of each response on a kept-alive connection; past that the
connection is closed.  Once the headers are in, the request is the app's (its body has its own
limit, ``limits.body_timeout``).

They are uvicorn's two HTTP/1.1 protocols (httptools and h11) with one timer each, read from the
:class:`UvicornConfig` that carries the value.  Both create a request's ``RequestResponseCycle``
exactly when its headers are complete, which is how the timer knows they are in, without touching
the parsers.  One ``call_later`` handle per connection, cancelled as soon as the headers arrive.
Middleware mode (the proxy inside another app) relies on its host server for this: see
docs/operations.md, "Hosting modes".
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .header_limits import DEFAULT_MAX_HEADER_BYTES, READ_SIZE, HeaderSizeLimit
from .send_timeout import DEFAULT_SEND_TIMEOUT, SendDeadline

DEFAULT_HEADER_TIMEOUT = 10.0


class UvicornConfig(uvicorn.Config):
    """uvicorn's config with the proxy's ``header_timeout`` and ``send_timeout`` (seconds) and
    ``max_header_bytes``, which the protocols read."""

    def __init__(self, app: Any, *, header_timeout: float = DEFAULT_HEADER_TIMEOUT,
                 send_timeout: float = DEFAULT_SEND_TIMEOUT, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
                 **options: Any) -> None:
        http = options.get("http", "auto")
        if http == "auto":  # uvicorn's own choice: httptools when it is installed
            http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
        if isinstance(http, str) and http in PROTOCOLS:
            options["http"] = PROTOCOLS[http]
        # h11 refuses a head past its own cap with a bare 400: past the proxy's limit by one read,
        # so that the proxy's 431 (header_limits.py) comes first.
        options.setdefault("h11_max_incomplete_event_size", max_header_bytes + READ_SIZE)
        super().__init__(app, **options)
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self.send_timeout = send_timeout


class _HeaderDeadline(asyncio.Protocol):
    """The timer, put before uvicorn's protocol class (``super()`` is that class)."""

    # Declared for the type checker: uvicorn's protocols set these.
    config: uvicorn.Config
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _header_timer: asyncio.TimerHandle | None = None
    _waiting_cycle: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # A new cycle exists once a request's headers were parsed (both protocols).
        if self._header_timer is not None and self.cycle is not self._waiting_cycle:
            self._stop_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        # Kept alive and idle: the next request's headers are due.  A pipelined request already
        # parsed (its cycle runs, its response not complete yet) needs no timer.
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        """From now, the next request's headers have ``header_timeout`` seconds to arrive."""
        self._stop_header_timer()
        seconds = getattr(self.config, "header_timeout", DEFAULT_HEADER_TIMEOUT)
        self._waiting_cycle = self.cycle
        self._header_timer = self.loop.call_later(seconds, self._headers_overdue)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_overdue(self) -> None:
        self._header_timer = None
        if self.cycle is self._waiting_cycle and not self.transport.is_closing():
            self.transport.close()


class HeaderTimeoutHttpTools(_HeaderDeadline, HeaderSizeLimit, SendDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with ``header_timeout``, ``max_header_bytes`` and ``send_timeout``."""


class HeaderTimeoutH11(_HeaderDeadline, HeaderSizeLimit, SendDeadline, H11Protocol):
    """uvicorn's h11 protocol with ``header_timeout``, ``max_header_bytes`` and ``send_timeout``."""


PROTOCOLS: dict[str, type[asyncio.Protocol]] = {"httptools": HeaderTimeoutHttpTools, "h11": HeaderTimeoutH11}
