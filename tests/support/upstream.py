"""A real HTTP/1.1 upstream on 127.0.0.1 whose every response the test scripts byte by byte.

It runs on raw asyncio streams (no web framework) in a background thread with its own event
loop, on a free port::

    with ScriptedUpstream() as up:
        up.script(Status(200, SSE_HEADERS), Chunk(b"data: {...}\\n\\n"), WaitFor(release), Cut())
        ...                                   # point the proxy at up.url
        request = up.wait_for_requests(1)[0]  # what the proxy sent: method, target, headers, body
        up.wait_closed(request.connection)    # when the proxy closed that connection

Each queued script answers the next request (FIFO); :meth:`ScriptedUpstream.script_at` queues one
for the next request under a path prefix instead, so many clients can run at once, each with its
own upstream base URL.  A request with nothing scripted gets a 500
``no response scripted`` and is listed in :attr:`ScriptedUpstream.unscripted`, so a test that
forgot a script fails loudly instead of hanging.  Connections are kept alive (the proxy pools
them), and a reader watches every connection all the time, so the moment the peer closes one is
known even while its response is paused.

:class:`RefusedPort` gives a 127.0.0.1 port that refuses connections (bound, never listening);
:class:`StalledPort` one whose connections never complete (a full accept queue): a connect timeout.

For many responses at once (the load test): :meth:`ScriptedUpstream.respond_with` answers every
unscripted request with steps computed from the request itself, and :meth:`ScriptedUpstream.hold`
gives a :class:`Hold` step that thousands of responses can wait on without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


# -- the steps of a scripted response -----------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """The status line and headers, in one write.

    The body is sent with ``Transfer-Encoding: chunked`` unless ``headers`` carry a
    ``Content-Length`` (then the chunks are written as they are, unframed).
    """

    code: int
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    reason: str = "Scripted"


@dataclass(frozen=True)
class Chunk:
    """One write (and, on a chunked response, one HTTP chunk)."""

    data: bytes


@dataclass(frozen=True)
class Raw:
    """Bytes written as they are, with no chunk framing (to break the framing on purpose)."""

    data: bytes


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class WaitFor:
    """Hold the response here until the test sets ``event`` (or the peer closes the connection)."""

    event: threading.Event
    timeout: float = 30.0


@dataclass(frozen=True)
class Hold:
    """Hold the response here until :meth:`release` (from any thread) or the peer closes.

    Unlike :class:`WaitFor` it does not poll, so thousands of responses can wait on one.  Get one
    from :meth:`ScriptedUpstream.hold`.
    """

    event: asyncio.Event
    loop: asyncio.AbstractEventLoop

    def release(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)


@dataclass(frozen=True)
class Signal:
    """Set ``event`` when the response reaches this point (everything before it is written)."""

    event: threading.Event


@dataclass(frozen=True)
class Cut:
    """Close the TCP connection abruptly, whatever was (not) sent."""


@dataclass(frozen=True)
class End:
    """End the response (the last chunk of a chunked body); the connection stays open."""


Step = Status | Chunk | Raw | Pause | WaitFor | Hold | Signal | Cut | End


def sse_event(payload: Any, event: str | None = None) -> bytes:
    """One SSE event: ``data: <compact json>\\n\\n`` (a ``str`` payload is sent as it is)."""
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def sse_bytes(*payloads: dict[str, Any], event_lines: bool = False, crlf: bool = False) -> bytes:
    """Events framed as a provider frames them: with an ``event: <data.type>`` line each or data
    lines only, ended by LF or CRLF (FORMATS.md section 0)."""
    body = b"".join(sse_event(p, p["type"] if event_lines else None) for p in payloads)
    return body.replace(b"\n", b"\r\n") if crlf else body  # JSON text holds no raw newline


def sse_steps(payloads: Iterable[Any], *, done: bool = True) -> list[Step]:
    """Every event its own write; ``data: [DONE]`` at the end unless ``done`` is false."""
    steps: list[Step] = [Chunk(sse_event(p)) for p in payloads]
    if done:
        steps.append(Chunk(b"data: [DONE]\n\n"))
    return steps


def sse_response(payloads: Iterable[Any], *, done: bool = True, status: int = 200,
                 headers: Mapping[str, str] = SSE_HEADERS) -> list[Step]:
    """A whole 200 SSE response: status, one write per event, ``[DONE]``, end."""
    return [Status(status, headers), *sse_steps(payloads, done=done), End()]


def split(data: bytes, size: int) -> list[Step]:
    """``data`` as writes of ``size`` bytes (cutting lines, events and UTF-8 characters anywhere)."""
    return [Chunk(data[i:i + size]) for i in range(0, len(data), size)]


def body_response(status: int, body: bytes | str | Mapping[str, Any], *,
                  content_type: str = "application/json", headers: Mapping[str, str] | None = None) -> list[Step]:
    """A complete non-streamed response with a ``Content-Length`` (an error page, a JSON error)."""
    if isinstance(body, Mapping):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body
    all_headers = {"content-type": content_type, "content-length": str(len(data)), **(headers or {})}
    return [Status(status, all_headers), Chunk(data), End()]


# -- what the upstream saw ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # the path with its query string
    headers: dict[str, str]  # lowercased names; repeated headers joined with ", "
    body: bytes
    connection: int  # which connection carried it (see ScriptedUpstream.closed)
    received_at: float  # time.monotonic()

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Connection:
    id: int
    writer: asyncio.StreamWriter
    closed_by_us: bool = False
    peer_closed: asyncio.Event = field(default_factory=asyncio.Event)


# -- the server -------------------------------------------------------------------------------------


class ScriptedUpstream:
    """A scripted HTTP/1.1 server on 127.0.0.1 in a background thread (a context manager)."""

    def __init__(self, *, backlog: int = 100) -> None:
        self._backlog = backlog  # pending connections the listener queues (raise it for load tests)
        self._lock = threading.Condition()
        self._scripts: deque[list[Step]] = deque()
        self._scripts_at: dict[str, deque[list[Step]]] = {}  # path prefix -> its own queue
        self._requests: list[Request] = []
        self._closed: dict[int, float] = {}
        self._unscripted: list[Request] = []
        self._connections: dict[int, _Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_id = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="scripted-upstream", daemon=True)
        self._server: asyncio.Server | None = None
        self._responder: Callable[[Request], list[Step]] | None = None
        self.port = 0

    # -- lifecycle --

    def start(self) -> ScriptedUpstream:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, HOST, 0, backlog=self._backlog))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
        self._server = None

    def __enter__(self) -> ScriptedUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for conn in list(self._connections.values()):
            conn.closed_by_us = True
            conn.writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self._server.wait_closed()

    # -- the test's side --

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def script(self, *steps: Step | Iterable[Step]) -> None:
        """Queue the response to the next request; lists of steps are flattened."""
        flat = _flatten(steps)
        with self._lock:
            self._scripts.append(flat)

    def script_at(self, prefix: str, *steps: Step | Iterable[Step]) -> None:
        """Queue the response to the next request whose path starts with ``prefix``."""
        flat = _flatten(steps)
        with self._lock:
            self._scripts_at.setdefault(prefix, deque()).append(flat)

    def respond_with(self, responder: Callable[[Request], list[Step]] | None) -> None:
        """Answer requests that have no queued script with ``responder(request)`` (``None``: stop)."""
        with self._lock:
            self._responder = responder

    def hold(self) -> Hold:
        """A :class:`Hold` step on this server's loop."""
        return Hold(asyncio.Event(), self._loop)

    @property
    def pending_scripts(self) -> int:
        with self._lock:
            return len(self._scripts) + sum(len(queue) for queue in self._scripts_at.values())

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def unscripted(self) -> list[Request]:
        with self._lock:
            return list(self._unscripted)

    @property
    def closed(self) -> dict[int, float]:
        """Connection id -> ``time.monotonic()`` when the peer (the proxy) closed it."""
        with self._lock:
            return dict(self._closed)

    def reset(self) -> None:
        """Forget queued scripts and what was seen (between tests)."""
        with self._lock:
            self._scripts.clear()
            self._scripts_at.clear()
            self._requests.clear()
            self._unscripted.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Request]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(f"the upstream received {len(self._requests)} requests, expected {count}")
            return list(self._requests)

    def wait_closed(self, connection: int, timeout: float = 5.0) -> float:
        """The monotonic time the peer closed ``connection``; fails if it stays open ``timeout`` s."""
        with self._lock:
            if not self._lock.wait_for(lambda: connection in self._closed, timeout):
                raise AssertionError(f"the proxy kept upstream connection {connection} open for {timeout} s")
            return self._closed[connection]

    # -- the server's side (all on the loop thread) --

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        with self._lock:
            self._next_id += 1
            conn = _Connection(self._next_id, writer)
        self._connections[conn.id] = conn
        incoming: asyncio.Queue[Request | None] = asyncio.Queue()
        read_task = asyncio.create_task(self._read_requests(reader, conn, incoming))
        try:
            while (request := await incoming.get()) is not None:
                with self._lock:
                    steps = self._next_script(request.path)
                    responder = self._responder
                if steps is None and responder is not None:
                    steps = responder(request)
                if steps is None:
                    with self._lock:
                        self._unscripted.append(request)
                if steps is None:
                    steps = body_response(500, f"no response scripted for {request.method} {request.target}",
                                          content_type="text/plain")
                if not await self._respond(conn, steps):
                    break
        except ConnectionError:
            pass
        finally:
            if not read_task.done():
                conn.closed_by_us = True
                writer.transport.abort()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await read_task
            writer.transport.abort()
            self._connections.pop(conn.id, None)
            self._tasks.discard(task)  # type: ignore[arg-type]

    def _next_script(self, path: str) -> list[Step] | None:
        """The script for a request to ``path`` (call with the lock held): by prefix, else FIFO."""
        for prefix, queue in self._scripts_at.items():
            if path.startswith(prefix) and queue:
                return queue.popleft()
        return self._scripts.popleft() if self._scripts else None

    async def _read_requests(self, reader: asyncio.StreamReader, conn: _Connection,
                             incoming: asyncio.Queue[Request | None]) -> None:
        """Parse requests as they come; note the moment the peer closes the connection."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
                method, target, _version = request_line.split(" ", 2)
                headers: dict[str, str] = {}
                for line in header_lines:
                    name, _, value = line.partition(":")
                    name, value = name.strip().lower(), value.strip()
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    body = await _read_chunked(reader)
                else:
                    body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(method, target, headers, body, conn.id, time.monotonic())
                with self._lock:
                    self._requests.append(request)
                    self._lock.notify_all()
                incoming.put_nowait(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.LimitOverrunError:
            conn.closed_by_us = True  # a request head over 64 KiB: not a test we script
        finally:
            now = time.monotonic()
            if not conn.closed_by_us:
                with self._lock:
                    self._closed[conn.id] = now
                    self._lock.notify_all()
            conn.peer_closed.set()
            incoming.put_nowait(None)

    async def _respond(self, conn: _Connection, steps: list[Step]) -> bool:
        """Play one script; false when the connection is gone afterwards."""
        writer = conn.writer
        chunked = False
        started = ended = False
        for step in steps:
            if conn.peer_closed.is_set():
                return False
            if isinstance(step, Status):
                items = list(step.headers.items()) if isinstance(step.headers, Mapping) else list(step.headers)
                chunked = not any(k.lower() == "content-length" for k, _ in items)
                if chunked:
                    items.append(("transfer-encoding", "chunked"))
                head = f"HTTP/1.1 {step.code} {step.reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in items)
                writer.write(head.encode("latin-1") + b"\r\n")
                started = True
            elif isinstance(step, Chunk):
                if chunked and step.data:
                    writer.write(b"%x\r\n%s\r\n" % (len(step.data), step.data))
                else:
                    writer.write(step.data)
            elif isinstance(step, Raw):
                writer.write(step.data)
            elif isinstance(step, Pause):
                await _sleep_unless(conn.peer_closed, step.seconds)
                continue
            elif isinstance(step, WaitFor):
                deadline = time.monotonic() + step.timeout
                while not step.event.is_set() and not conn.peer_closed.is_set() and time.monotonic() < deadline:
                    await _sleep_unless(conn.peer_closed, 0.002)
                continue
            elif isinstance(step, Hold):
                waits = [asyncio.ensure_future(step.event.wait()), asyncio.ensure_future(conn.peer_closed.wait())]
                _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                continue
            elif isinstance(step, Signal):
                step.event.set()
                continue
            elif isinstance(step, Cut):
                conn.closed_by_us = True
                writer.transport.abort()
                return False
            elif isinstance(step, End):
                if chunked:
                    writer.write(b"0\r\n\r\n")
                ended = True
            await writer.drain()
            if ended:
                break
        if started and not ended and chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return True


def _flatten(steps: Iterable[Any]) -> list[Step]:
    """Steps given as they come, in lists, or in lists of lists."""
    flat: list[Step] = []
    for step in steps:
        if isinstance(step, (list, tuple)):
            flat.extend(_flatten(step))
        else:
            flat.append(step)
    return flat


async def _sleep_unless(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


# -- a port that refuses connections --------------------------------------------------------------


class RefusedPort:
    """A 127.0.0.1 port that refuses connections: bound (so nothing else takes it), never listening."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, 0))
        self.port: int = self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RefusedPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StalledPort:
    """A 127.0.0.1 port whose connections never complete: it listens with a backlog of one that
    is already taken, so the kernel drops every further SYN and a connect waits until it times out."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, 0))
        self._sock.listen(0)
        self.port: int = self._sock.getsockname()[1]
        self._filler = socket.create_connection((HOST, self.port), timeout=2)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def close(self) -> None:
        self._filler.close()
        self._sock.close()

    def __enter__(self) -> StalledPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
