"""The lean upstream transport: ``httpx.AsyncClient(transport=LeanTransport())``.

httpx stays the client API (requests, responses, headers, exceptions); only the network layer
under it changes.  httpx's stock transport (httpcore + h11 + anyio) costs, per body chunk read, a
cancel scope and a ``fail_after``, several async generator layers and the pure-Python h11 parser,
and per request a scan of every pooled connection; this one is a Protocol fed by the event loop,
httptools' C parser, one awaited future per socket read and an O(1) pool
(:mod:`agui_proxy.upstream.transport.pool`).

What it does: HTTP/1.1 (and HTTP/1.0 answers), ``http`` and ``https`` (a verified ``ssl``
context built the way httpx builds it, SNI), keep-alive, request bodies of any kind (bytes, or
a stream sent chunked), httpx's ``timeout`` extension (connect, read, write; there is no pool
wait, as there is no connection cap), errors as httpx's exception classes.  What it does not:
HTTP/2, proxies (the proxy's clients set ``trust_env=False`` and no proxy), upgrades.

A response's :class:`ResponseBody` can also be read without httpx's iterator layers, one socket
read at a time (:func:`body_of`): the proxy's hot path does that.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx

from .connection import Connection, StaleConnection
from .pool import ConnectionPool, Origin

_DEFAULT_PORTS = {b"http": 80, b"https": 443}
_CRLF = b"\r\n"


class ResponseBody(httpx.AsyncByteStream):
    """A response's body: one item per socket read, then the end.  Gives the connection back to
    the pool once read to its end, closes it when closed earlier."""

    __slots__ = ("_conn", "_pool", "read_timeout")

    def __init__(self, conn: Connection, pool: ConnectionPool, read_timeout: float | None) -> None:
        self._conn: Connection | None = conn
        self._pool = pool
        self.read_timeout = read_timeout

    async def receive(self) -> bytes:
        """The next socket read's body bytes, ``b""`` at the end (and after :meth:`aclose`)."""
        conn = self._conn
        if conn is None:
            return b""
        try:
            data = await conn.receive(self.read_timeout)
        except BaseException:
            self._conn = None
            self._pool.discard(conn)
            raise
        if not data:
            self._conn = None
            self._pool.release(conn)
        return data

    @property
    def queued(self) -> int:
        """Body bytes read from the socket and not yet taken by the reader."""
        return self._conn.queued if self._conn is not None else 0

    @property
    def reading_paused(self) -> bool:
        """Whether the socket is not being read because the reader lags (flow control)."""
        return self._conn is not None and self._conn.reading_paused

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        data = await self.receive()
        if not data:
            raise StopAsyncIteration
        return data

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Read to its end already (the last read came with the response's end): reusable.
            if conn.reusable:
                self._pool.release(conn)
            else:
                self._pool.discard(conn)


def body_of(response: httpx.Response) -> ResponseBody | None:
    """The lean body under ``response`` (``None`` when another transport answered it)."""
    body = response.extensions.get("agui_proxy.body")
    return body if isinstance(body, ResponseBody) else None


def ssl_context(verify: ssl.SSLContext | bool = True, cert: httpx._types.CertTypes | None = None) -> ssl.SSLContext:
    """The context httpx's own transport would build (certifi's CA bundle, TLS 1.2+), for HTTP/1.1."""
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(
        verify=verify, cert=cert, trust_env=False)
    context.set_alpn_protocols(["http/1.1"])
    return context


class LeanTransport(httpx.AsyncBaseTransport):
    """``verify``: ``True`` (certifi's CAs), ``False`` (no check: never in production) or an
    ``ssl.SSLContext`` of your own (a private CA: ``ssl.create_default_context(cafile=...)``)."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, max_idle_per_origin: int = 100,
                 keepalive_expiry: float = 5.0) -> None:
        self._pool = ConnectionPool(ssl_context(verify), max_idle_per_origin=max_idle_per_origin,
                                    keepalive_expiry=keepalive_expiry)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"the lean transport speaks http and https, not {scheme.decode()!r}")
        origin: Origin = (scheme, url.raw_host, url.port or _DEFAULT_PORTS[scheme])
        timeouts = request.extensions.get("timeout", {})
        head = _request_head(request)
        # A body given as bytes is written with the head in one write, and can be sent again.
        replayable = isinstance(request.stream, httpx.ByteStream)
        body = request.content if replayable else None
        while True:
            conn = await self._pool.acquire(origin, timeouts.get("connect"))
            try:
                await self._exchange(conn, request, head, body, timeouts)
            except StaleConnection:
                self._pool.discard(conn)
                if not replayable:
                    raise
                continue  # the next acquire takes another idle connection or opens a new one
            except BaseException:
                self._pool.discard(conn)
                raise
            break
        body_stream = ResponseBody(conn, self._pool, timeouts.get("read"))
        return httpx.Response(conn.status, headers=conn.headers, stream=body_stream,
                              extensions={"http_version": conn.http_version, "reason_phrase": conn.reason,
                                          "agui_proxy.body": body_stream})

    async def _exchange(self, conn: Connection, request: httpx.Request, head: bytes, body: bytes | None,
                        timeouts: dict[str, float | None]) -> None:
        conn.begin(request.method.encode("ascii"))
        write_timeout = timeouts.get("write")
        if body is not None:
            await conn.send(head + body, write_timeout)
        else:
            await conn.send(head, write_timeout)
            chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
            await _send_stream(conn, request.stream, chunked, write_timeout)  # type: ignore[arg-type]
        await conn.head(timeouts.get("read"))

    async def aclose(self) -> None:
        self._pool.close()


def _request_head(request: httpx.Request) -> bytes:
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name or b":" in name:
            raise httpx.LocalProtocolError(f"header {name!r} has a character HTTP forbids there")
        lines.append(name + b": " + value)
    lines.append(_CRLF)
    return _CRLF.join(lines)


async def _send_stream(conn: Connection, stream: httpx.AsyncByteStream, chunked: bool,
                       write_timeout: float | None) -> None:
    """A streamed request body: as it is under a ``Content-Length``, else chunked (httpx then set
    ``Transfer-Encoding: chunked``)."""
    async for chunk in stream:
        if chunk:
            await conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk, write_timeout)
    if chunked:
        await conn.send(b"0\r\n\r\n", write_timeout)
