"""The ``Server-Timing`` header: how long the proxy took before it called the upstream.

Every response carries one ``proxy;dur=<ms>`` entry (W3C Server Timing), so an operator reads
the proxy's own share of the time to the first byte in a browser's network panel.  No test here
asserts a duration against a threshold: only what must hold on any machine, busy or not.
"""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from ..support.agui_check import assert_valid_run, parse_frames, text_of
from ..support.openai_chat_streams import MODEL, TEXT, text_transcript
from ..support.proxy import ProxyProcess, ProxySetup, open_stream, post
from ..support.upstream import SSE_HEADERS, End, ScriptedUpstream, Signal, Status, WaitFor, sse_steps

pytestmark = pytest.mark.integration

TOKEN = "agui-client-token-timing-40c1e7d2"
AUTH = {"authorization": f"Bearer {TOKEN}"}
BODY = {"params": {"messages": [{"role": "user", "content": "What is the weather in Paris?"}]}}
# The whole header: one metric named proxy with a duration in milliseconds, nothing else.
PROXY_TIMING = re.compile(r"proxy;dur=(\d+(?:\.\d+)?)")


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    return ProxySetup({
        "auth": {"bearer_tokens": [TOKEN]},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1",
                                 "api_key": "sk-test-timing-abcdefghijklmnop", "model": MODEL, "retries": 0}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    })


def proxy_ms(headers: httpx.Headers) -> float:
    """The one ``proxy`` duration of a response's Server-Timing header."""
    values = headers.get_list("server-timing")
    assert len(values) == 1, values
    found = PROXY_TIMING.fullmatch(values[0])
    assert found, values[0]
    return float(found.group(1))


def test_a_stream_says_how_long_the_proxy_took_before_the_upstream_was_called(
        proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """The upstream holds its answer until the client has the response's head and RUN_STARTED: the
    header went out before the upstream answered, so the upstream's time cannot be in it, and the
    proxy's time cannot be more than the client waited for it."""
    asked, release = threading.Event(), threading.Event()
    up.script(Signal(asked), WaitFor(release), Status(200, SSE_HEADERS), sse_steps(text_transcript()), End())
    began = time.monotonic()
    with open_stream(f"{proxy.url}/api/agent", BODY, headers=AUTH) as reader:
        waited_ms = (time.monotonic() - began) * 1000
        assert reader.response.status_code == 200
        assert 0 <= proxy_ms(reader.response.headers) <= waited_ms
        assert reader.next() == {**reader.events[0], "type": "RUN_STARTED"}
        assert not release.is_set()
        release.set()
        events, done = parse_frames(reader.rest())
    assert asked.is_set()
    assert_valid_run(events)
    assert done and text_of(events) == TEXT


def test_a_response_that_called_no_upstream_says_how_long_the_proxy_took_to_answer(proxy: ProxyProcess) -> None:
    for headers, status in (({}, 401), (AUTH, 422)):
        began = time.monotonic()
        body = BODY if status == 401 else {"params": {"messages": "not a list"}}
        reply = post(f"{proxy.url}/api/agent", body, headers=headers)
        waited_ms = (time.monotonic() - began) * 1000
        assert reply.status == status, reply.body
        assert 0 <= proxy_ms(reply.headers) <= waited_ms


def test_every_kind_of_response_has_one(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()), End())
    replies = [post(f"{proxy.url}/api/agent", BODY, headers=AUTH),
               post(f"{proxy.url}/healthz", b"", method="GET"),
               post(f"{proxy.url}/api/agent", b"", method="OPTIONS",
                    headers={"origin": "https://app.example.com", "access-control-request-method": "POST"}),
               post(f"{proxy.url}/api/agent", b"", method="GET")]
    for reply in replies:
        assert proxy_ms(reply.headers) >= 0, reply.status
    assert text_of(replies[0].frames[0]) == TEXT
