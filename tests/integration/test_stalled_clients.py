"""Clients that stop reading: every write to a client is bounded by ``streams.send_timeout``.

200 clients on bare sockets with a tiny receive buffer (and an internet-sized segment) start a
long answer each and never read a byte.  The proxy's writes to them block (the kernel's and the
transport's buffers fill), and each connection stays stalled for longer than ``send_timeout``:
the proxy closes those connections, and their stream slots, descriptors and memory come back, so
new requests are admitted again.  On uvloop + httptools and on asyncio + h11.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from ..support.agui_check import text_of
from ..support.metrics_text import Samples
from ..support.openai_chat_streams import MODEL, TEXT, chunk, text_transcript
from ..support.proxy import (
    TRANSPORT_ENV,
    ProxyProcess,
    ProxySetup,
    SlowReader,
    eventually,
    new_client,
    post,
    sse_events,
)
from ..support.upstream import SSE_HEADERS, Chunk, End, Request, ScriptedUpstream, Status, Step, sse_event

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the proxy's fds and RSS in /proc")]

CLIENTS = 200
SEND_TIMEOUT = 3.0
BODY = {"params": {"messages": [{"role": "user", "content": "Write a long story."}]}}
PIECE = "0123456789abcdef" * 1024  # 16 KB of text per upstream event
# An internet-sized segment: the kernel's buffers for the connection hold about 130 KB then, and
# the transport's 64 KB more; 1 MB per answer is far more, so every client's connection stalls.
MSS = 1460
LONG_ANSWER = [Chunk(sse_event(chunk({"role": "assistant", "content": ""}))),
               *(Chunk(sse_event(chunk({"content": PIECE}))) for _ in range(32)),
               Chunk(sse_event(chunk({}, "stop"))), Chunk(b"data: [DONE]\n\n")]
# The 200 clients on the default stack; the other parser's protocol is the same code, checked with fewer.
STACKS = [pytest.param(("uvloop", "httptools", CLIENTS), id="uvloop-httptools"),
          pytest.param(("asyncio", "h11", 50), id="asyncio-h11")]


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest) -> tuple[str, str, int]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def proxy_setup(stack: tuple[str, str, int], upstream: ScriptedUpstream) -> ProxySetup:
    loop, http, _ = stack
    config: dict[str, Any] = {
        "streams": {"max_concurrent": CLIENTS, "keepalive": 0, "send_timeout": SEND_TIMEOUT},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "sk-test",
                                 "model": MODEL, "retries": 0,
                                 "timeouts": {"first_byte": 30, "idle": 30, "total": 120}}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }
    return ProxySetup(config, extra_args=["--loop", loop, "--http", http])


def active_streams(proxy: ProxyProcess) -> float:
    with new_client() as client:
        return Samples(client.get(proxy.url + "/metrics").text)["agui_proxy_active_streams"]


def open_fds(proxy: ProxyProcess) -> int:
    return len(os.listdir(f"/proc/{proxy.process.pid}/fd"))


def rss_mb(proxy: ProxyProcess, field: str = "VmRSS") -> float:
    """The proxy's resident memory now (``VmRSS``) or at its highest so far (``VmHWM``), in MB."""
    with open(f"/proc/{proxy.process.pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field}")


@contextlib.contextmanager
def stalled_clients(proxy: ProxyProcess, count: int) -> Iterator[list[SlowReader]]:
    clients: list[SlowReader] = []
    try:
        for _ in range(count):
            clients.append(SlowReader(proxy.url, "/api/agent", BODY, mss=MSS))
        yield clients
    finally:
        for client in clients:
            client.close()


def cut(client: SlowReader) -> bool:
    """Whether the proxy ended the connection (reset, or closed) before the response's end."""
    try:
        client.read_to_end()
    except ConnectionResetError:
        return True
    return client.eof and not client.received.endswith(b"0\r\n\r\n")


def stalled_wave(proxy: ProxyProcess, up: ScriptedUpstream, clients: int, fds_before: int) -> float:
    """``clients`` clients that never read; once the proxy let go of them, new requests are admitted.
    The proxy's peak RSS (MB) so far then.

    The answers are held until every request has arrived, so that every wave stalls all of its
    clients at once: each wave's peak is the same, and RSS compares across waves."""
    requests_before = len(up.requests)
    everyone = up.hold()

    def long_answer(request: Request) -> list[Step]:
        return [Status(200, SSE_HEADERS), everyone, *LONG_ANSWER, End()]

    up.respond_with(long_answer)
    try:
        with stalled_clients(proxy, clients) as stalled:
            # Every client's request was admitted (its stream started) ...
            eventually(lambda: len(up.requests), lambda n: n >= requests_before + clients,
                       "every stalled client's upstream request", timeout=30)
            everyone.release()
            # ... and once each stalled past send_timeout, the proxy let go of all of them while the
            # clients still hold their sockets open.
            eventually(lambda: active_streams(proxy), lambda n: n == 0, "the stalled streams' slots freed",
                       timeout=30)
            eventually(lambda: open_fds(proxy), lambda n: n <= fds_before + 5, "the stalled connections closed",
                       timeout=10)
            for client in stalled[:5]:
                assert cut(client), client.received[-200:]
            up.respond_with(None)
            # New requests are admitted again.
            up.script([Status(200, SSE_HEADERS), *(Chunk(sse_event(c)) for c in text_transcript()), End()])
            assert text_of(sse_events(post(proxy.url + "/api/agent", BODY))) == TEXT
            return rss_mb(proxy, "VmHWM")
    finally:
        up.respond_with(None)


def test_clients_that_stop_reading_lose_their_connections_and_slots(proxy: ProxyProcess, up: ScriptedUpstream,
                                                                     stack: tuple[str, str, int]) -> None:
    clients = stack[2]
    up.script([Status(200, SSE_HEADERS), *(Chunk(sse_event(c)) for c in text_transcript()), End()])
    assert text_of(sse_events(post(proxy.url + "/api/agent", BODY))) == TEXT  # warm: baseline after one run
    fds_before, rss_before = open_fds(proxy), rss_mb(proxy)
    first = stalled_wave(proxy, up, clients, fds_before)
    # What the stalled streams held was given back: after a second wave as large, the proxy holds
    # less than it did at the first wave's peak (streams kept would hold two waves' worth).  How
    # much of the freed memory the allocator hands back to the system varies from run to run, so
    # the memory now is held to the first peak, not to the baseline.
    stalled_wave(proxy, up, clients, fds_before)
    now = rss_mb(proxy)
    print(f"RSS {rss_before:.0f} MB before, peak {first:.0f} MB with {clients} stalled clients, {now:.0f} MB "
          f"after {clients} more")
    if os.environ.get(TRANSPORT_ENV, "lean") == "lean":
        # Held on the default transport only: on httpx's stock transport the memory after a second
        # wave has been seen above the first wave's peak (1 MB answers from 200 upstream
        # connections cut at once); the slots and descriptors above are held on both.
        assert now < first, (rss_before, first, now)
