"""The load client: many streams at once over raw asyncio connections, each one checked exactly.

A client with a framework of its own (httpx, aiohttp) would cost more CPU than some of the
servers it measures on a 2-core machine; this one parses HTTP/1.1 responses by hand (status,
``Content-Length`` or chunked body), keeps connections alive between requests, timestamps the
first token as it arrives, and checks each whole body afterwards (:mod:`bench.check`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .check import check_body
from .streams import FIRST_TOKEN, StreamSpec

HOST = "127.0.0.1"
_MARKER = FIRST_TOKEN.encode()


@dataclass(frozen=True, slots=True)
class Target:
    """Where a contender listens and what it speaks (``agui`` frames or ``openai`` chunks)."""

    name: str
    port: int
    path: str
    kind: str  # "agui" | "openai"
    make_body: Callable[[StreamSpec], bytes]
    token: str = ""  # sent as a bearer token when set
    headers: tuple[tuple[str, str], ...] = ()  # more request headers (Portkey's routing headers)

    def request(self, spec: StreamSpec) -> bytes:
        body = self.make_body(spec)
        auth = f"authorization: Bearer {self.token}\r\n" if self.token else ""
        extra = "".join(f"{name}: {value}\r\n" for name, value in self.headers)
        head = (f"POST {self.path} HTTP/1.1\r\nhost: {HOST}:{self.port}\r\ncontent-type: application/json\r\n"
                f"accept: text/event-stream\r\n{auth}{extra}content-length: {len(body)}\r\n\r\n")
        return head.encode() + body


@dataclass(slots=True)
class StreamResult:
    ttft: float | None = None  # seconds from the request's write to the first token's arrival
    total: float | None = None  # seconds to the end of the response
    error: str = ""  # "" when the stream was exact

    @property
    def exact(self) -> bool:
        return not self.error


class _Connection(asyncio.Protocol):
    """One keep-alive connection that runs one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._reset(None)

    def _reset(self, done: asyncio.Future[None] | None) -> None:
        self._done = done
        self._buf = bytearray()
        self._head_done = False
        self._status = 0
        self._length: int | None = None  # Content-Length, or None for chunked / until close
        self._chunked = False
        self._keep_alive = True
        self._body: list[bytes] = []
        self._chunk_left = 0  # bytes of the current HTTP chunk still to come (+2 for its CRLF)
        self._tail = b""  # the last bytes of body seen, so a marker split across reads is found
        self.sent_at = 0.0
        self.first_at: float | None = None
        self.on_first: Callable[[], None] | None = None

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._done is not None and not self._done.done():
            if self._head_done and self._length is None and not self._chunked:
                self._done.set_result(None)  # a body delimited by the end of the connection
            else:
                self._done.set_exception(ConnectionError("the server closed the connection mid-response"))

    def data_received(self, data: bytes) -> None:
        if self._done is None:
            return
        if not self._head_done:
            self._buf += data
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self._parse_head(bytes(self._buf[:end]).decode("latin-1"))
            data = bytes(self._buf[end + 4:])
            self._buf.clear()
        if self._chunked:
            self._chunked_data(data)
        else:
            self._body_data(data)
            if self._length is not None and sum(map(len, self._body)) >= self._length:
                self._finish()

    # -- parsing --

    def _parse_head(self, head: str) -> None:
        lines = head.split("\r\n")
        self._status = int(lines[0].split(" ", 2)[1])
        self._head_done = True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                self._length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                self._chunked = True
            elif name == "connection" and value == "close":
                self._keep_alive = False

    def _body_data(self, data: bytes) -> None:
        if not data:
            return
        self._body.append(data)
        if self.first_at is None:
            seen = self._tail + data
            if _MARKER in seen:
                self.first_at = time.perf_counter()
                if self.on_first is not None:
                    self.on_first()
            self._tail = seen[-(len(_MARKER) - 1):]

    def _chunked_data(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos = 0
        while True:
            if self._chunk_left:
                take = min(self._chunk_left, len(buf) - pos)
                # The chunk's own bytes, minus its trailing CRLF.
                body_end = pos + min(take, max(self._chunk_left - 2, 0))
                self._body_data(bytes(buf[pos:body_end]))
                self._chunk_left -= take
                pos += take
                if self._chunk_left:
                    break
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            size = int(bytes(buf[pos:end]).split(b";")[0], 16)
            if size == 0:
                if buf.find(b"\r\n", end + 2) < 0:  # wait for the CRLF that ends the body (no trailers)
                    break
                del buf[:]
                self._finish()
                return
            pos = end + 2
            self._chunk_left = size + 2
        del buf[:pos]

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    # -- the caller's side --

    async def request(self, data: bytes, on_first: Callable[[], None] | None = None) -> tuple[int, bytes, float]:
        """Send one request; ``(status, body, seconds to the first token or -1)``."""
        assert self.transport is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reset(done)
        self.on_first = on_first
        self.sent_at = time.perf_counter()
        self.transport.write(data)
        await done
        if not self._keep_alive:
            self.close()
        first = self.first_at - self.sent_at if self.first_at is not None else -1.0
        return self._status, b"".join(self._body), first

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


async def connect(port: int) -> _Connection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(_Connection, HOST, port)
    return conn


async def one_stream(conn: _Connection, target: Target, spec: StreamSpec, request: bytes,
                     on_first: Callable[[], None] | None = None) -> StreamResult:
    result = StreamResult()
    try:
        status, body, first = await conn.request(request, on_first)
    except ConnectionError as exc:
        result.error = str(exc)
        if conn.first_at is not None:
            result.ttft = conn.first_at - conn.sent_at
        return result
    result.total = time.perf_counter() - conn.sent_at
    result.ttft = first if first >= 0 else None
    result.error = check_body(target.kind, status, body, spec)
    return result


async def run_streams(target: Target, spec: StreamSpec, *, concurrency: int, count: int,
                      ramp: float = 0.0, timeout: float = 120.0, window: float | None = None,
                      on_first: Callable[[], None] | None = None) -> list[StreamResult]:
    """``count`` streams through ``concurrency`` connections, the connections opened evenly over
    ``ramp`` seconds; no stream starts after ``window`` seconds (when given); streams not ended
    when ``timeout`` passes are failures ("timed out")."""
    request = target.request(spec)
    results: list[StreamResult] = []
    tickets = iter(range(count))
    started = time.perf_counter()
    deadline = started + timeout
    last_start = started + window if window is not None else deadline

    async def worker(index: int) -> None:
        await asyncio.sleep(ramp * index / concurrency)
        conn: _Connection | None = None
        try:
            for _ in tickets:
                if time.perf_counter() > last_start:
                    break
                left = deadline - time.perf_counter()
                if conn is None or conn.closed:
                    try:
                        conn = await asyncio.wait_for(connect(target.port), max(left, 0.001))
                    except (OSError, TimeoutError) as exc:
                        results.append(StreamResult(error=f"connect failed: {exc!r}"))
                        conn = None
                        continue
                try:
                    results.append(await asyncio.wait_for(one_stream(conn, target, spec, request, on_first),
                                                          max(deadline - time.perf_counter(), 0.001)))
                except TimeoutError:
                    ttft = conn.first_at - conn.sent_at if conn.first_at is not None else None
                    results.append(StreamResult(ttft=ttft, error="timed out"))
                    conn.close()
        finally:
            if conn is not None:
                conn.close()

    await asyncio.gather(*(worker(i) for i in range(min(concurrency, count))))
    return results


@dataclass
class UnderLoad:
    """What :func:`latency_under_load` saw."""

    opened: int  # background streams that had their first token before the probes began
    background: list[StreamResult]
    probes: list[StreamResult]


async def latency_under_load(target: Target, background_spec: StreamSpec, background: int, probe_spec: StreamSpec,
                             probes: int, *, ramp: float, settle: float, window: float,
                             timeout: float) -> UnderLoad:
    """First-token latency of new streams while ``background`` paced streams are open.

    The background streams are opened evenly over ``ramp`` seconds; once all have their first
    token (or ``ramp`` + ``settle`` seconds passed), ``probes`` connections run short streams one after the other
    for ``window`` seconds; then the background streams are read to their end.  Everything stops
    at ``timeout``.
    """
    opened = 0

    def first() -> None:
        nonlocal opened
        opened += 1

    start = time.perf_counter()
    loader = asyncio.ensure_future(run_streams(target, background_spec, concurrency=background, count=background,
                                               ramp=ramp, timeout=timeout, on_first=first)) if background else None
    while background and opened < background and time.perf_counter() - start < ramp + settle:
        await asyncio.sleep(0.05)
    at_probes = opened
    left = max(timeout - (time.perf_counter() - start), 1.0)
    probed = await run_streams(target, probe_spec, concurrency=probes, count=10**9, window=min(window, left),
                               timeout=left)
    return UnderLoad(at_probes, await loader if loader else [], probed)


async def hold_streams(target: Target, spec: StreamSpec, count: int, *,
                       while_held: Callable[[int], Awaitable[None]], release: Callable[[], Awaitable[None]],
                       timeout: float = 60.0, stall: float = 5.0,
                       connect_batch: int = 200) -> tuple[int, list[StreamResult]]:
    """Open ``count`` streams in ``hold`` mode; once every one has its first token (or none more came
    for ``stall`` seconds, or ``timeout`` passed), call ``while_held(number held)``, then ``release()``,
    then read every stream to its end.  Returns how many were open with their first token at once,
    and the results."""
    assert spec.mode in ("hold", "held")
    request = target.request(spec)
    loop = asyncio.get_running_loop()
    held = 0

    def first() -> None:
        nonlocal held
        held += 1

    conns: list[_Connection] = []
    tasks: list[asyncio.Future[StreamResult]] = []
    deadline = time.perf_counter() + timeout
    for start in range(0, count, connect_batch):
        batch = await asyncio.gather(*(connect(target.port) for _ in range(start, min(start + connect_batch, count))),
                                     return_exceptions=True)
        for conn in batch:
            if isinstance(conn, BaseException):
                failed: asyncio.Future[StreamResult] = loop.create_future()
                failed.set_result(StreamResult(error=f"connect failed: {conn!r}"))
                tasks.append(failed)
                continue
            conns.append(conn)
            tasks.append(asyncio.ensure_future(one_stream(conn, target, spec, request, first)))
    last, last_change = -1, time.perf_counter()
    while held < len(conns):
        now = time.perf_counter()
        if held != last:
            last, last_change = held, now
        if now > deadline or now - last_change > stall:
            break
        await asyncio.sleep(0.05)
    at_once = held
    await while_held(at_once)
    # Streams that reach the upstream after a release are held in turn: release until all ended.
    end_by = time.perf_counter() + max(timeout, 10.0)
    pending: set[asyncio.Future[StreamResult]] = set(tasks)
    while pending and time.perf_counter() < end_by:
        await release()
        _, pending = await asyncio.wait(pending, timeout=1.0)
    results = [t.result() for t in tasks if t not in pending]
    for task in pending:
        task.cancel()
        results.append(StreamResult(error="timed out after release"))
    for conn in conns:
        conn.close()
    return at_once, results
