"""Clients that read slowly, or stop reading, while the proxy ends or continues their run.

The client is a bare socket with a small receive buffer (:class:`~tests.proxy.SlowReader`); the
upstream sends far more than every buffer between it and the client holds (the kernel's loopback
buffers grow to a few MB), so the proxy's sends to the client really block.  Whatever ends the run
while a send is blocked (an upstream timeout, the end of the shutdown grace), the client gets
the whole of what was produced, then ``RUN_ERROR`` and ``data: [DONE]``: never a cut stream.  And
the time the proxy spends waiting for the client is not upstream silence: a slow reader never
trips ``timeouts.idle``.  Each on uvloop + httptools and on asyncio + h11.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import text_of
from ..support.openai_chat_streams import MODEL, chunk
from ..support.proxy import ProxyProcess, ProxySetup, SlowReader, sse_events, sse_run_error, start_proxy
from ..support.upstream import SSE_HEADERS, End, ScriptedUpstream, Status, sse_steps

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

BODY = {"params": {"messages": [{"role": "user", "content": "Write a long story."}]}}
PIECE = "0123456789abcdef" * 64  # 1 KB of text per upstream event
PIECES = 8000  # 8 MB: more than the loopback buffers between the proxy and a client that stopped reading
STACKS = [pytest.param(("uvloop", "httptools"), id="uvloop-httptools"),
          pytest.param(("asyncio", "h11"), id="asyncio-h11")]
SERVER_ERRORS = ("Traceback", "Exception in ASGI application", "cancel scope")


def long_answer(pieces: int = PIECES) -> list[Any]:
    events = [chunk({"role": "assistant", "content": ""}), *(chunk({"content": PIECE}) for _ in range(pieces)),
              chunk({}, "stop")]
    return [Status(200, SSE_HEADERS), sse_steps(events), End()]


def upstream_config(url: str, **timeouts: float) -> dict[str, Any]:
    return {"provider": "openai-chat", "base_url": f"{url}/v1", "api_key": "sk-test", "model": MODEL,
            "retries": 0, "timeouts": {"first_byte": 10, "idle": 10, "total": 60, **timeouts}}


def proxy_config(url: str, **streams: float) -> dict[str, Any]:
    return {
        "streams": {"keepalive": 0, **streams},
        "upstreams": {"idle": upstream_config(url, idle=1.0), "total": upstream_config(url, total=1.5)},
        "routes": [{"path": "/api/idle", "upstream": "idle"}, {"path": "/api/total", "upstream": "total"}],
    }


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest) -> list[str]:
    loop, http = request.param
    return ["--loop", loop, "--http", http]


@pytest.fixture(scope="module")
def proxy_setup(stack: list[str], upstream: ScriptedUpstream) -> ProxySetup:
    return ProxySetup(proxy_config(upstream.url), extra_args=stack)


def no_server_error(proxy: ProxyProcess) -> None:
    output = proxy.output()
    for text in SERVER_ERRORS:
        assert text not in output, output[-3000:]


def text_is_a_prefix(events: list[dict[str, Any]], pieces: int = PIECES) -> None:
    text = text_of(events)
    assert text == PIECE * (len(text) // len(PIECE)) and len(text) < pieces * len(PIECE), len(text)


def test_a_reader_that_stops_for_longer_than_idle_gets_the_whole_answer(proxy: ProxyProcess,
                                                                         up: ScriptedUpstream) -> None:
    """The upstream is never silent (it waits for the proxy to read); the client stops reading
    for 2.5 s, more than ``timeouts.idle`` (1 s), then reads on: the whole answer, no timeout."""
    up.script(long_answer())
    with SlowReader(proxy.url, "/api/idle", BODY) as client:
        client.read_until(b'"type":"RUN_STARTED"')
        client.stall(2.5)
        client.read_to_end()
        events = sse_events(client.response())
    assert events[-1]["type"] == "RUN_FINISHED", events[-1]
    assert text_of(events) == PIECE * PIECES
    no_server_error(proxy)


def test_total_timeout_against_a_slow_reader_ends_the_run(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """At 2 MB/s the 8 MB answer takes 4 s; ``timeouts.total`` (1.5 s) ends it mid-send."""
    up.script(long_answer())
    with SlowReader(proxy.url, "/api/total", BODY) as client:
        client.read_at(2e6)
        events = sse_run_error(client.response(), "upstream_timeout", "timeouts.total")
    text_is_a_prefix(events)
    (request,) = up.requests
    up.wait_closed(request.connection)
    no_server_error(proxy)


def test_shutdown_grace_ends_a_stream_blocked_on_its_client(stack: list[str], up: ScriptedUpstream,
                                                             tmp_path: Path) -> None:
    """SIGTERM while the client has stopped reading; the grace (1 s) ends while its send is blocked."""
    up.script(long_answer())
    with start_proxy(tmp_path, proxy_config(up.url, shutdown_grace=1.0), extra_args=stack) as proxy:
        with SlowReader(proxy.url, "/api/idle", BODY) as client:
            client.read_until(b'"type":"TEXT_MESSAGE_CONTENT"')
            proxy.process.send_signal(signal.SIGTERM)
            client.stall(2.0)
            client.read_to_end()
            events = sse_run_error(client.response(), "shutdown")
        text_is_a_prefix(events)
        proxy.process.wait(15)
        no_server_error(proxy)


def test_shutdown_with_clients_that_never_read_again_logs_no_traceback(stack: list[str], up: ScriptedUpstream,
                                                                       tmp_path: Path) -> None:
    """Ten clients stop reading, then SIGTERM: their sends stay blocked past the grace, and the
    server's own shutdown timeout cancels what is left. An expected cancellation: the process exits
    with no traceback."""
    status, steps, end = long_answer()
    up.respond_with(lambda request: [status, *steps, end])
    try:
        with start_proxy(tmp_path, proxy_config(up.url, shutdown_grace=0.5), extra_args=stack) as proxy:
            clients = [SlowReader(proxy.url, "/api/idle", BODY) for _ in range(10)]
            try:
                for client in clients:
                    client.read_until(b'"type":"TEXT_MESSAGE_CONTENT"')
                proxy.process.send_signal(signal.SIGTERM)
                assert proxy.process.wait(30) == 0
            finally:
                for client in clients:
                    client.close()
            output = proxy.output()
    finally:
        up.respond_with(None)
    for text in (*SERVER_ERRORS, "CancelledError"):
        assert text not in output, output[-3000:]
