"""The proxy keeps its upstream connections alive between runs, and never waits long to do so.

After the provider's end marker (``data: [DONE]``) the HTTP body still has its own end to come
(the last chunk of a chunked body).  The proxy reads it, so the connection goes back to the pool
and the next run skips a TCP (and TLS) handshake; but an upstream that never ends the body after
its end marker must not hold the client: the client's response ends anyway, and the connection is
dropped.
"""

from __future__ import annotations

import threading

import pytest

from ..support.agui_check import assert_valid_run, text_of
from ..support.openai_chat_streams import TEXT, text_transcript
from ..support.proxy import ProxyProcess, post
from ..support.upstream import SSE_HEADERS, End, ScriptedUpstream, Status, WaitFor, sse_response, sse_steps

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

BODY = {"params": {"messages": [{"role": "user", "content": "Hello"}]}}


def test_runs_that_end_normally_reuse_the_upstream_connection(up: ScriptedUpstream, plain_proxy: ProxyProcess) -> None:
    for _ in range(3):
        up.script(sse_response(text_transcript()))  # [DONE], then the body's end in a write of its own
    replies = [post(f"{plain_proxy.url}/api/agent", BODY) for _ in range(3)]
    for reply in replies:
        assert reply.status == 200 and reply.done
        assert_valid_run(reply.events)
        assert text_of(reply.events) == TEXT
    connections = [r.connection for r in up.wait_for_requests(3)]
    assert len(set(connections)) == 1, f"a new upstream connection per run: {connections}"
    assert connections[0] not in up.closed


def test_an_upstream_that_never_ends_its_body_does_not_hold_the_client(up: ScriptedUpstream,
                                                                       plain_proxy: ProxyProcess) -> None:
    never = threading.Event()
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()), WaitFor(never, timeout=20), End())
    try:
        reply = post(f"{plain_proxy.url}/api/agent", BODY, timeout=10)
        assert reply.status == 200 and reply.done
        assert text_of(reply.events) == TEXT
        request = up.wait_for_requests(1)[0]
        up.wait_closed(request.connection, timeout=10)  # given up on: not returned to the pool half-read
    finally:
        never.set()


def test_a_cookie_an_upstream_sets_never_goes_back_with_later_requests(up: ScriptedUpstream,
                                                                       plain_proxy: ProxyProcess) -> None:
    """The upstream client is shared by every user's runs: a cookie one answer set (a CDN's, say)
    must not ride along with anyone's next request."""
    with_cookie = [*SSE_HEADERS.items(), ("set-cookie", "__cf_bm=user-one-session; Path=/; HttpOnly")]
    up.script(Status(200, with_cookie), sse_steps(text_transcript()), End())
    up.script(sse_response(text_transcript()))
    for _ in range(2):
        reply = post(f"{plain_proxy.url}/api/agent", BODY)
        assert reply.status == 200 and reply.done and text_of(reply.events) == TEXT
    first, second = up.wait_for_requests(2)
    assert "cookie" not in first.headers and "cookie" not in second.headers, second.headers
