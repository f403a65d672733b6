"""Loopback HTTP servers for the transport tests, in the test's own event loop.

:class:`Server` accepts connections on a free 127.0.0.1 port and runs ``handler(conn)`` for each;
the handler reads requests (:meth:`ServerConn.request`) and writes whatever bytes the test wants,
so every framing, every close and every reset is the test's choice.  :func:`run` runs a test
coroutine on asyncio's loop or on uvloop (the one the proxy uses).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import uvloop

HOST = "127.0.0.1"


def run(loop_name: str, coro: Coroutine[Any, Any, Any]) -> Any:
    if loop_name == "uvloop":
        return uvloop.run(coro)
    return asyncio.run(coro)


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "the condition") -> None:
    """Wait for ``condition`` to hold, checking as the loop runs; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class ServerConn(asyncio.Protocol):
    """One accepted connection: requests parsed (head + content-length or chunked body), writes
    paced by the socket (``paused`` while its buffer is full)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.closed = asyncio.Event()
        self.paused = False
        self.stalled = asyncio.Event()  # pause_writing was called at least once
        self._resumed: asyncio.Future[None] | None = None
        self._data = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.append(self)
        self.server.tasks.add(asyncio.ensure_future(self._run()))

    async def _run(self) -> None:
        try:
            await self.server.handler(self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._data.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self._data.set()
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True
        self.stalled.set()

    def resume_writing(self) -> None:
        self.paused = False
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)

    async def _more(self) -> None:
        if self.closed.is_set():
            raise asyncio.IncompleteReadError(bytes(self.buf), None)
        self._data.clear()
        await self._data.wait()

    async def request(self) -> tuple[str, bytes]:
        """The next request's head (text) and body."""
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            await self._more()
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end + 4]
        lower = head.lower()
        body = bytearray()
        if "transfer-encoding: chunked" in lower:
            while True:
                while (line_end := self.buf.find(b"\r\n")) < 0:
                    await self._more()
                size = int(bytes(self.buf[:line_end]), 16)
                while len(self.buf) < line_end + 2 + size + 2:
                    await self._more()
                body += self.buf[line_end + 2:line_end + 2 + size]
                del self.buf[:line_end + 2 + size + 2]
                if size == 0:
                    break
        else:
            length = next((int(line.split(":", 1)[1]) for line in lower.split("\r\n")
                           if line.startswith("content-length:")), 0)
            while len(self.buf) < length:
                await self._more()
            body += self.buf[:length]
            del self.buf[:length]
        self.server.requests.append(head)
        return head, bytes(body)

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def write_paced(self, data: bytes) -> None:
        """Write, then wait while the socket's buffer is full (the peer is not reading)."""
        self.write(data)
        while self.paused and not self.closed.is_set():
            self._resumed = asyncio.get_running_loop().create_future()
            await self._resumed

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0): the peer reads ECONNRESET, not an end of stream."""
        assert self.transport is not None
        sock = self.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class Server:
    def __init__(self, handler: Callable[[ServerConn], Awaitable[None]], ssl: Any = None) -> None:
        self.handler = handler
        self.ssl = ssl
        self.connections: list[ServerConn] = []
        self.requests: list[str] = []
        self.tasks: set[asyncio.Future[None]] = set()
        self.port = 0

    async def __aenter__(self) -> Server:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: ServerConn(self), HOST, 0, ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str = "/", scheme: str = "http", host: str = HOST) -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for conn in self.connections:
            conn.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


OK_CHUNKED = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"


def ok_length(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def serve_forever(conn: ServerConn, answer: Callable[[str, bytes], bytes]) -> None:
    """Answer every request on ``conn`` with ``answer(head, body)``."""
    while True:
        head, body = await conn.request()
        conn.write(answer(head, body))
