"""One HTTP/1.1 client connection on an asyncio Protocol, its response parsed by httptools.

The event loop calls :meth:`Connection.data_received` with each socket read; httptools' C parser
(llhttp) splits it into the status line, headers and body, and the body bytes of that one read
become one item for the reader (pieces of several HTTP chunks in one read are joined), so a
reader wakes once per read, never once per HTTP chunk or per line.  A reader that lags behind
gets everything read since it last asked as one item: still one wake-up, and a plain list holds
the reads meanwhile (a deque costs 760 bytes per connection even when empty, and a process
holding 9,500 streams holds 9,500 connections).

Flow control both ways: when the queue holds more than :data:`HIGH_WATER` bytes the connection
stops reading the socket (``pause_reading``) until the reader has taken it down to
:data:`LOW_WATER`, so a slow reader makes the server's writes stall instead of this process
buffering the whole body; and a request is written only as fast as the socket drains
(``pause_writing`` / ``resume_writing``, as asyncio's own streams do).

Errors are httpx's own classes (``ReadError``, ``RemoteProtocolError``, ``ReadTimeout``,
``WriteError``, ``WriteTimeout``), raised where the bytes come in, so the shell sees httpx's API.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
import httpx

# A response's head (status line and headers) is capped as httpx's own transport caps it (httpcore
# gives h11 100 KB): an upstream that never ends its headers is refused, not buffered until the
# first_byte timeout (issue 26: 115 MB held, every other stream frozen for seconds).
MAX_RESPONSE_HEAD = 100 * 1024
HIGH_WATER = 256 * 1024  # bytes queued for the reader before the socket is paused
LOW_WATER = 64 * 1024  # ...and resumed once the reader is down to this

_NO_BODY_STATUS = frozenset({204, 304})


class StaleConnection(httpx.RemoteProtocolError):
    """A kept-alive connection the server closed before any byte of the answer.

    The race of RFC 9112 section 9.6: a server may close an idle connection just as the client
    starts reusing it.  The transport sends the request once more on a fresh connection when its
    body can be replayed; otherwise the caller sees it as the ``RemoteProtocolError`` it is.
    """


class ResponseHeadTooLarge(httpx.RemoteProtocolError):
    """The upstream's status line and headers passed :data:`MAX_RESPONSE_HEAD`."""


def head_too_large() -> str:
    return f"its response headers passed {MAX_RESPONSE_HEAD // 1024} KB"


class Connection(asyncio.Protocol):
    """A socket to one origin, serving one request at a time (no pipelining).

    Lifecycle: :meth:`begin` (a fresh parser for the next response), :meth:`send` the request,
    :meth:`head` waits for the status line and headers, then :meth:`receive` returns each read's
    body bytes and ``b""`` at the end; :attr:`reusable` says whether it can go back to the pool.

    Slots, not an instance dict: a process holding 9,500 streams holds 9,500 of these.
    """

    __slots__ = ("_complete", "_error", "_head_bytes", "_head_done", "_items", "_keep_alive", "_method", "_parser",
                 "_pieces", "_queued", "_reading_paused", "_received", "_until_close", "_waiter", "_write_waiter",
                 "_writing_paused", "closed", "headers", "http_version", "idle_timer", "loop", "on_lost", "origin",
                 "reason", "status", "transport", "used")

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: tuple[bytes, bytes, int]) -> None:
        self.loop = loop
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False  # the socket is gone (either side closed it)
        self.used = 0  # requests begun on this connection
        self.idle_timer: asyncio.TimerHandle | None = None  # set by the pool while it is idle
        self.on_lost: Any = None  # the pool's callback when an idle connection closes
        self._items: list[bytes] = []  # body bytes of the reads the reader has not taken yet
        self._pieces: list[bytes] = []
        self._queued = 0  # bytes in _items
        self._reading_paused = False
        self._write_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._error: httpx.TransportError | None = None
        self._begin_state()

    def _begin_state(self, method: bytes = b"GET") -> None:
        self._parser: Any = None
        self._method = method
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.http_version = b"HTTP/1.1"
        self._head_done = False
        self._head_bytes = 0
        self._complete = False  # the whole response is parsed
        self._until_close = False  # a body delimited by the end of the connection (HTTP/1.0 style)
        self._received = False  # any byte of this response arrived
        self._keep_alive = False

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self._received = True
        parser = self._parser
        if parser is None or self._complete:
            return  # bytes while no request is under way (or after the response's end): ignored
        if not self._head_done:
            self._head_bytes += len(data)
            if not self._head_fits(data):
                self._fail(ResponseHeadTooLarge(head_too_large()))
                return
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols, which this client does not do"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {exc}"))
        pieces = self._pieces
        if pieces:
            item = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            pieces.clear()
            self._items.append(item)
            self._queued += len(item)
            if self._queued > HIGH_WATER and not self._reading_paused and self.transport is not None:
                self._reading_paused = True
                self.transport.pause_reading()
        self._wake()

    def _head_fits(self, data: bytes) -> bool:
        """Whether the head, with ``data``, stays within :data:`MAX_RESPONSE_HEAD` (its end, the
        blank line, may be in ``data``, and what follows it is body)."""
        if self._head_bytes <= MAX_RESPONSE_HEAD:
            return True
        end = data.find(b"\r\n\r\n")
        return end != -1 and self._head_bytes - len(data) + end + 4 <= MAX_RESPONSE_HEAD

    def eof_received(self) -> bool | None:
        return None  # close the transport: this client never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if self.on_lost is not None:
            self.on_lost(self)
        if self._parser is not None and not self._complete:
            if self._head_done and self._until_close and exc is None:
                self._complete = True  # the end of the connection is the end of this body
            elif not self._received and self.used > 1 and (exc is None or isinstance(exc, ConnectionResetError)):
                self._fail(StaleConnection("the server closed the kept-alive connection before answering"))
            elif exc is not None:
                self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
            elif not self._head_done:
                self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))
            else:
                self._fail(httpx.RemoteProtocolError("peer closed connection without sending complete message body"))
        if self._write_waiter is not None and not self._write_waiter.done():
            self._write_waiter.set_exception(httpx.WriteError(str(exc) if exc else "the connection closed"))
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter = self._write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- httptools callbacks ------------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._complete:
            return  # a second response after this one's end: never read (no pipelining)
        parser = self._parser
        status = parser.get_status_code()
        if 100 <= status < 200:
            # 100 Continue and other interim answers: the final response follows (RFC 9110 15.2).
            self.reason, self.headers = b"", []
            return
        self.status = status
        self.http_version = b"HTTP/" + parser.get_http_version().encode()
        self._keep_alive = bool(parser.should_keep_alive())
        self._head_done = True
        if self._method == b"HEAD" or status in _NO_BODY_STATUS:
            self._complete = True  # no body, whatever the headers say; llhttp cannot be told
            self._keep_alive = self._keep_alive and status in _NO_BODY_STATUS
            return
        names = {name.lower() for name, _ in self.headers}
        self._until_close = b"content-length" not in names and b"transfer-encoding" not in names

    def on_body(self, body: bytes) -> None:
        if not self._complete:  # a HEAD response's announced body is not there to read
            self._pieces.append(body)

    def on_message_complete(self) -> None:
        if self._head_done:
            self._complete = True

    # -- the caller's side --------------------------------------------------------------------

    def begin(self, method: bytes) -> None:
        self.used += 1
        self._begin_state(method)
        self._parser = httptools.HttpResponseParser(self)

    async def send(self, data: bytes, write_timeout: float | None) -> None:
        """Write ``data``, waiting while the socket's buffer is full (``pause_writing``)."""
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            if self.used > 1:
                raise StaleConnection("the kept-alive connection was closed before the request was written")
            raise httpx.WriteError("the connection closed")
        transport.write(data)
        if self._writing_paused:
            waiter = self._write_waiter = self.loop.create_future()
            try:
                async with asyncio.timeout(write_timeout):
                    await waiter
            except TimeoutError:
                raise httpx.WriteTimeout("the request could not be written in time") from None
            finally:
                self._write_waiter = None

    async def head(self, read_timeout: float | None) -> None:
        """Wait until the status line and headers are in (or raise the error that came instead)."""
        while not self._head_done:
            if self._error is not None:
                raise self._error
            await self._wait(read_timeout)

    async def receive(self, read_timeout: float | None = None) -> bytes:
        """The body bytes of the next socket read; ``b""`` once the body has ended."""
        items = self._items
        while not items:
            if self._error is not None:
                raise self._error
            if self._complete:
                return b""
            await self._wait(read_timeout)
        item = items[0] if len(items) == 1 else b"".join(items)
        items.clear()
        self._queued = 0
        if self._reading_paused and self._queued <= LOW_WATER and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return item

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def reading_paused(self) -> bool:
        return self._reading_paused

    @property
    def reusable(self) -> bool:
        """Whether this connection can carry another request: the response ended cleanly and
        the server keeps the connection open."""
        return (self._complete and not self._items and self._error is None and self._keep_alive
                and not self._until_close and not self.closed)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()  # never wait to flush: the response is abandoned

    # -- internals ----------------------------------------------------------------------------

    async def _wait(self, timeout: float | None) -> None:
        waiter = self._waiter = self.loop.create_future()
        if timeout is None:
            try:
                await waiter
            finally:
                self._waiter = None
            return
        timer = self.loop.call_later(timeout, self._time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _time_out(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_exception(httpx.ReadTimeout("the server sent nothing within the read timeout"))

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: httpx.TransportError) -> None:
        if self._error is None:
            self._error = error
        self._wake()
        if not self.closed:
            self.close()
