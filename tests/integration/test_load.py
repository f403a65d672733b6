"""N concurrent streams through one proxy process: every stream exact, none crossed, none lost.

Every client asks for its own stream (its number is in the prompt); the loopback upstream answers
each with a transcript of its own (text and a tool call, both carrying that number), sends the
first part, then holds every response until all N are open at once.  The proxy's resident memory
is read then (Linux ``/proc``), against a baseline taken after a warm-up, and printed per open
stream; then the responses are released and every client's reassembled text and tool call must
be exactly its own.

``AGUI_LOAD_STREAMS`` sets N (default 200, what CI runs); the issue's target is 1,000 streams in
one process at under 50 KB each::

    AGUI_LOAD_STREAMS=1000 pytest -m load -s

:func:`test_concurrent_streams_with_faults` runs N streams of about 24 KB each at once where one
upstream connection in ten (seeded) is reset at a random offset (in the status line, the headers
or the body) and one client in ten reads slowly through a small receive buffer; it reports how
many streams were exact, how many ended with ``RUN_ERROR`` and the terminator (a reset after the
answer began), how many were cut silently (must be none), and the proxy's RSS before, at its peak
and after::

    AGUI_LOAD_STREAMS=1000 pytest -m load -s -k faults

Only 127.0.0.1 is ever contacted; every wait is bounded (``deadline``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import assert_valid_run, parse_frames, text_of, tool_calls_of
from ..support.openai_chat_streams import MODEL, chunk
from ..support.proxy import HOST, start_proxy
from ..support.upstream import (
    SSE_HEADERS,
    Chunk,
    Cut,
    End,
    Hold,
    Raw,
    Request,
    ScriptedUpstream,
    Status,
    Step,
    sse_event,
)

pytestmark = [pytest.mark.integration, pytest.mark.load,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the proxy's RSS from /proc")]

STREAMS = int(os.environ.get("AGUI_LOAD_STREAMS", "200"))
WARM_UP = 20
WORDS = ["amber", "basalt", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper"]


def expected(n: int) -> tuple[list[str], str, str]:
    """The text pieces, tool-call id and arguments of stream ``n``: different for every stream."""
    pieces = [f"Stream {n:05d}", f" says {WORDS[n % 10]}", f" and {WORDS[(n * 7) % 10]}", " — fin 🌍."]
    args = json.dumps({"stream": n, "token": f"t{(n * 7919) % 10007}", "word": WORDS[(n * 3) % 10]})
    return pieces, f"call_{n:05d}", args


def transcript(n: int) -> tuple[bytes, bytes]:
    """Stream ``n`` as upstream bytes, in two parts: before and after the hold."""
    pieces, call_id, args = expected(n)
    first = [chunk({"role": "assistant", "content": ""}), chunk({"content": pieces[0]})]
    rest = [chunk({"content": p}) for p in pieces[1:]]
    rest.append(chunk({"tool_calls": [{"index": 0, "id": call_id, "type": "function",
                                       "function": {"name": "lookup", "arguments": ""}}]}))
    rest += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 9]}}]})
             for i in range(0, len(args), 9)]
    rest.append(chunk({}, "tool_calls"))
    return b"".join(sse_event(c) for c in first), b"".join(sse_event(c) for c in rest) + b"data: [DONE]\n\n"


def stream_number(request: Request) -> int:
    return int(request.json()["messages"][-1]["content"].split()[-1])


def body(n: int) -> bytes:
    return json.dumps({"params": {"messages": [{"role": "user", "content": f"Please answer stream {n}"}]}}).encode()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            pytest.skip(f"needs {needed} file descriptors, the hard limit is {hard}")


# -- a bare asyncio HTTP/1.1 client: thousands of them cost little in the test process ----------------


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[:size]
        data = data[size + 2:]


class LoadClient:
    def __init__(self, n: int, port: int) -> None:
        self.n = n
        self.port = port
        self.raw = bytearray()
        self.first_content = asyncio.Event()

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        payload = body(self.n)
        writer.write(b"POST /api/agent HTTP/1.1\r\nhost: %s:%d\r\ncontent-type: application/json\r\n"
                     b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                     % (HOST.encode(), self.port, len(payload), payload))
        try:
            while chunk_ := await reader.read(65536):
                self.raw += chunk_
                if not self.first_content.is_set() and b"TEXT_MESSAGE_CONTENT" in self.raw:
                    self.first_content.set()
        finally:
            writer.close()

    def events(self) -> list[dict[str, Any]]:
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        assert b"transfer-encoding: chunked" in head.lower()
        events, done = parse_frames(dechunk(rest))
        assert done
        return events


async def drive(port: int, pid: int, hold: Hold, count: int, deadline: float) -> tuple[list[LoadClient], int]:
    """All ``count`` streams open at once; the proxy's RSS then (KiB); then everything to its end."""
    clients = [LoadClient(n, port) for n in range(count)]
    tasks = [asyncio.create_task(c.run()) for c in clients]
    try:
        waiting = [asyncio.create_task(c.first_content.wait()) for c in clients]
        done, _ = await asyncio.wait(waiting, timeout=deadline - time.monotonic())
        failures = [t.exception() for t in tasks if t.done() and t.exception()]
        assert len(done) == count, f"only {len(done)} of {count} streams opened; failures: {failures[:3]}"
        await asyncio.sleep(0.5)  # let the proxy settle with every stream open
        open_rss = rss_kib(pid)
        hold.release()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=deadline - time.monotonic())
    finally:
        hold.release()
        for task in tasks:
            task.cancel()
    return clients, open_rss


@pytest.fixture(scope="module")
def load_upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream(backlog=max(1024, STREAMS * 2)) as up:
        yield up


def test_concurrent_streams(load_upstream: ScriptedUpstream, tmp_path: Path) -> None:
    up = load_upstream
    raise_fd_limit(4 * STREAMS + 512)
    hold = up.hold()
    warm_up = up.hold()
    warm_up.release()
    holding = {"hold": warm_up}

    def respond(request: Request) -> list[Step]:
        first, rest = transcript(stream_number(request))
        return [Status(200, SSE_HEADERS), Chunk(first), holding["hold"], Chunk(rest), End()]

    up.respond_with(respond)
    config = {
        "streams": {"max_concurrent": STREAMS + 10},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{up.url}/v1", "api_key": "sk-load",
                                 "model": MODEL, "retries": 0}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }
    deadline = time.monotonic() + 60 + STREAMS * 0.12
    with start_proxy(tmp_path, config, extra_args=["--log-level", "warning"]) as proxy:
        pid = proxy.process.pid
        warmed, _ = asyncio.run(drive(proxy.port, pid, warm_up, WARM_UP, deadline))
        assert all(text_of(c.events()) == "".join(expected(c.n)[0]) for c in warmed)
        time.sleep(0.3)
        baseline = rss_kib(pid)
        holding["hold"] = hold
        started = time.monotonic()
        clients, open_rss = asyncio.run(drive(proxy.port, pid, hold, STREAMS, deadline))
        elapsed = time.monotonic() - started
        check_streams(clients)
        assert "Traceback" not in proxy.output()
    per_stream = (open_rss - baseline) / STREAMS
    print(f"\n{STREAMS} concurrent streams in one proxy process: RSS {baseline} KiB before, {open_rss} KiB with all "
          f"open: {per_stream:.1f} KiB per open stream; all {STREAMS} exact; {elapsed:.1f} s in all")
    assert per_stream < 200, f"{per_stream:.1f} KiB per open stream"  # far past the 50 KB target: a leak


def check_streams(clients: list[LoadClient]) -> None:
    ids: set[str] = set()
    for client in clients:
        events = client.events()
        assert_valid_run(events)
        pieces, call_id, args = expected(client.n)
        assert text_of(events) == "".join(pieces), (client.n, text_of(events))
        assert tool_calls_of(events) == [(call_id, "lookup", args)], client.n
        assert events[-1]["type"] == "RUN_FINISHED"
        run_ids = {e["runId"] for e in events if "runId" in e}
        assert len(run_ids) == 1
        ids |= run_ids
    assert len(ids) == len(clients)  # none crossed: every stream its own run


# -- the same load, with faults: upstream resets at random offsets and slow readers ------------------------

FAULT_SEED = 15
RESET_SHARE = 0.10  # of upstream connections (every try is a connection of its own)
SLOW_SHARE = 0.10  # of clients
SLOW_READ = 2048  # bytes a slow client reads at a time, every SLOW_PAUSE seconds
SLOW_PAUSE = 0.02
LONG_PIECES = 24  # about 24 KB of text per stream: more than a slow client's buffers take in at once


def long_expected(n: int) -> list[str]:
    return [f"Stream {n:05d}", *(f" {WORDS[(n + i) % 10]}-{i:03d} " + "·" * 1000 for i in range(LONG_PIECES))]


def long_response(n: int) -> bytes:
    """Stream ``n``'s whole HTTP response as bytes (status line, headers, chunked body, last chunk)."""
    events = [chunk({"role": "assistant", "content": ""}), *(chunk({"content": p}) for p in long_expected(n)),
              chunk({}, "stop")]
    body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in [*map(sse_event, events), b"data: [DONE]\n\n"])
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    return head + body + b"0\r\n\r\n"


class FaultyUpstream:
    """Answers every try of stream ``n`` with its response, or, for one connection in ten (seeded),
    with that response cut at a random offset and the connection reset."""

    def __init__(self) -> None:
        self.tries: dict[int, int] = {}
        self.resets = 0

    def __call__(self, request: Request) -> list[Step]:
        n = stream_number(request)
        attempt = self.tries[n] = self.tries.get(n, 0) + 1
        data = long_response(n)
        rng = random.Random(f"{FAULT_SEED}-{n}-{attempt}")
        if rng.random() < RESET_SHARE:
            self.resets += 1
            return [Raw(data[:rng.randrange(len(data))]), Cut()]
        return [Raw(data)]


class FaultLoadClient(LoadClient):
    """A :class:`LoadClient` that, when ``slow``, has a small receive buffer and reads a little at a time."""

    def __init__(self, n: int, port: int, slow: bool) -> None:
        super().__init__(n, port)
        self.slow = slow

    async def run(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.slow:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (HOST, self.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=SLOW_READ if self.slow else 2**16)
        payload = body(self.n)
        writer.write(b"POST /api/agent HTTP/1.1\r\nhost: %s:%d\r\ncontent-type: application/json\r\n"
                     b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                     % (HOST.encode(), self.port, len(payload), payload))
        try:
            while chunk_ := await reader.read(SLOW_READ if self.slow else 65536):
                self.raw += chunk_
                if self.slow:
                    await asyncio.sleep(SLOW_PAUSE)  # the client's reading pace is the fault, not a wait
        finally:
            writer.close()

    def outcome(self) -> str:
        """``exact``, ``run_error`` (RUN_ERROR then the terminator, what was sent before it a prefix of
        the answer) or ``cut`` (anything else: the stream ended without its end)."""
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        try:
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            assert rest.endswith(b"0\r\n\r\n")
            events, done = parse_frames(dechunk(rest))
            assert done
            assert_valid_run(events)
        except (AssertionError, ValueError):
            return "cut"
        answer = "".join(long_expected(self.n))
        if events[-1]["type"] == "RUN_FINISHED" and text_of(events) == answer:
            return "exact"
        if events[-1]["type"] == "RUN_ERROR" and answer.startswith(text_of(events)):
            return "run_error"
        return "cut"


async def sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_kib(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


async def drive_with_faults(port: int, pid: int, count: int, deadline: float) -> tuple[list[FaultLoadClient], int]:
    rng = random.Random(FAULT_SEED)
    clients = [FaultLoadClient(n, port, slow=rng.random() < SLOW_SHARE) for n in range(count)]
    peak, stop = [0], asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, peak, stop))
    tasks = [asyncio.create_task(c.run()) for c in clients]
    try:
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=deadline - time.monotonic())
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await sampler
    return clients, peak[0]


def test_concurrent_streams_with_faults(load_upstream: ScriptedUpstream, tmp_path: Path) -> None:
    """N streams at once (``AGUI_LOAD_STREAMS``): 10% of upstream connections reset at random offsets
    (status line, headers or body), 10% of clients read slowly, keep-alive pings race the runs' ends.
    Every stream is exact, or ends with ``RUN_ERROR`` and its terminator; none is cut silently."""
    up = load_upstream
    raise_fd_limit(4 * STREAMS + 512)
    faulty = FaultyUpstream()
    up.respond_with(faulty)
    config = {
        # Pings every 50 ms of silence: a ping racing a run's end must never land after the terminator.
        "streams": {"max_concurrent": STREAMS + 10, "keepalive": 0.05},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{up.url}/v1", "api_key": "sk-load-faults",
                                 "model": MODEL, "retries": {"max": 2, "backoff": 0.01, "max_backoff": 0.05}}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }
    deadline = time.monotonic() + 60 + STREAMS * 0.2
    with start_proxy(tmp_path, config, extra_args=["--log-level", "warning"]) as proxy:
        pid = proxy.process.pid
        before = rss_kib(pid)
        started = time.monotonic()
        clients, peak = asyncio.run(drive_with_faults(proxy.port, pid, STREAMS, deadline))
        elapsed = time.monotonic() - started
        after = rss_kib(pid)
        output = proxy.output()
    up.respond_with(None)
    outcomes = [c.outcome() for c in clients]
    counts = {kind: outcomes.count(kind) for kind in ("exact", "run_error", "cut")}
    slow = sum(c.slow for c in clients)
    print(f"\n{STREAMS} concurrent streams with faults ({faulty.resets} of {sum(faulty.tries.values())} upstream "
          f"connections reset at random offsets, {slow} slow readers): {counts['exact']} exact, "
          f"{counts['run_error']} ended with RUN_ERROR + terminator, {counts['cut']} cut silently; RSS "
          f"{before} KiB before, {peak} KiB at peak, {after} KiB after; {elapsed:.1f} s")
    cut = [c for c, o in zip(clients, outcomes, strict=True) if o == "cut"]
    assert not cut, [(c.n, bytes(c.raw[-200:])) for c in cut[:3]]  # how each ended
    assert counts["run_error"] <= faulty.resets  # only a reset ends a run with an error
    assert faulty.resets > 0 and slow > 0
    assert "Traceback" not in output and "Exception in ASGI application" not in output, output[-3000:]
