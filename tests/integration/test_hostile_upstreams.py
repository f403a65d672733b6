"""Upstreams that answer with what the proxy did not ask for: compressed bodies (the proxy asks
for ``identity``), a gzip body that inflates a thousandfold, a corrupt one, events and error bodies
nested past every parser's depth.  Each is the upstream's fault: a ``RUN_ERROR`` with its
``upstream_*`` code (retried where the rules allow), never ``internal_error``, never a traceback.
"""

from __future__ import annotations

import gzip
import zlib
from threading import Event
from typing import Any

import pytest

from ..support.agui_check import text_of
from ..support.openai_chat_streams import MODEL, TEXT, text_transcript
from ..support.proxy import ProxyProcess, ProxySetup, post, sse_events, sse_run_error
from ..support.upstream import (
    SSE_HEADERS,
    Chunk,
    End,
    Raw,
    ScriptedUpstream,
    Status,
    WaitFor,
    body_response,
    sse_event,
    sse_response,
)

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

BODY = {"params": {"messages": [{"role": "user", "content": "Hi"}]}}
GZIP_SSE = {**SSE_HEADERS, "content-encoding": "gzip"}


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    return ProxySetup({
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "sk-test",
                                 "model": MODEL, "retries": {"max": 1, "backoff": 0.01}}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    })


def call(proxy: ProxyProcess) -> Any:
    return post(proxy.url + "/api/agent", BODY, timeout=30)


def answer_bytes() -> bytes:
    return b"".join(sse_event(p) for p in text_transcript()) + b"data: [DONE]\n\n"


def no_traceback(proxy: ProxyProcess) -> None:
    output = proxy.output()
    assert "Traceback" not in output and "internal_error" not in output, output[-3000:]


# -- encodings ---------------------------------------------------------------------------------------------


def test_the_proxy_asks_for_an_uncompressed_body(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    assert text_of(sse_events(call(proxy))) == TEXT
    (request,) = up.requests
    assert request.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_answer_sent_anyway_is_read(proxy: ProxyProcess, up: ScriptedUpstream, encoding: str) -> None:
    data = gzip.compress(answer_bytes()) if encoding == "gzip" else zlib.compress(answer_bytes())
    up.script(Status(200, {**SSE_HEADERS, "content-encoding": encoding}),
              [Chunk(data[i:i + 7]) for i in range(0, len(data), 7)], End())
    assert text_of(sse_events(call(proxy))) == TEXT


def test_a_gzip_bomb_ends_the_run_without_inflating_it(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """200 KB of gzip that inflates to 200 MB of newlines (a thousandfold)."""
    bomb = gzip.compress(b"\n" * (200 * 1024 * 1024), compresslevel=9)
    up.script(Status(200, GZIP_SSE), [Chunk(bomb[i:i + 16384]) for i in range(0, len(bomb), 16384)], End())
    events = sse_run_error(call(proxy), "upstream_protocol_error", "gzip")
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
    no_traceback(proxy)


def test_a_corrupt_gzip_body_is_the_upstreams_fault(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    data = gzip.compress(answer_bytes())
    corrupt = data[:20] + bytes(b ^ 0x5A for b in data[20:40]) + data[40:]
    up.script(Status(200, GZIP_SSE), Chunk(corrupt), End())
    sse_run_error(call(proxy), "upstream_protocol_error", "compressed")
    no_traceback(proxy)


# -- depth -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1100, 100_000])
def test_an_event_nested_past_the_parsers_depth(proxy: ProxyProcess, up: ScriptedUpstream, depth: int) -> None:
    deep = "[" * depth + "]" * depth
    up.script(Status(200, SSE_HEADERS), Chunk(sse_event(text_transcript()[0])), Chunk(f"data: {deep}\n\n".encode()),
              End())
    # Not JSON (too deep to parse), or a JSON list where an object belongs, as the Python parses it.
    sse_run_error(call(proxy), "upstream_protocol_error")
    no_traceback(proxy)


def test_a_deep_error_body_is_retried_like_any_500(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    deep = "[" * 2000 + "]" * 2000  # within the 4 KB of an error body the proxy reads
    up.script(body_response(500, deep))
    up.script(sse_response(text_transcript()))
    assert text_of(sse_events(call(proxy))) == TEXT
    assert len(up.requests) == 2
    no_traceback(proxy)


# -- response heads --------------------------------------------------------------------------------------------


def endless_head() -> list[Any]:
    """A status line, then header lines, 2 MB of them, and never the blank line that ends them."""
    lines = b"".join(b"x-pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(2000))
    return [Raw(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"), Raw(lines), WaitFor(Event(), timeout=20)]


def test_an_upstream_that_never_ends_its_headers_gets_a_clear_run_error(proxy: ProxyProcess,
                                                                         up: ScriptedUpstream) -> None:
    """Refused past the transport's cap on a response head (100 KB, on either transport), not
    buffered until first_byte: the run ends with RUN_ERROR naming the headers, the connection closed."""
    up.script(endless_head())
    up.script(endless_head())  # the retry meets the same
    events = sse_run_error(call(proxy), "upstream_unavailable", "response headers")
    assert "100 KB" in events[-1]["message"], events[-1]
    for request in up.requests:
        up.wait_closed(request.connection)
    no_traceback(proxy)
