"""Hostile bodies through the real proxy: a 4xx JSON error naming the problem, never a 500,
never a request upstream.  The reader itself is driven much harder in tests/core/test_inbound_hostile.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ..support.agui_check import text_of
from ..support.openai_chat_streams import MODEL, TEXT, chunk, text_transcript
from ..support.proxy import ProxyProcess, ProxySetup, Reply, new_client, post, sse_events
from ..support.upstream import ScriptedUpstream, sse_response

pytestmark = pytest.mark.integration

MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    config = {"limits": {"max_body_bytes": MAX_BODY},
              "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "model": MODEL}},
              "routes": [{"path": "/api/agent", "upstream": "openai"}]}
    return ProxySetup(config)


def refused(reply: Reply) -> dict[str, Any]:
    assert 400 <= reply.status < 500, (reply.status, reply.body[:300])
    assert reply.headers["content-type"] == "application/json"
    error: dict[str, Any] = reply.json()["error"]
    assert error["type"] and error["message"], error
    return error


def message(**fields: Any) -> bytes:
    return json.dumps({"params": {"messages": [{"role": "user", "content": "hi", **fields}]}}).encode()


@pytest.mark.parametrize(("body", "status", "word"), [
    pytest.param(b'{"params": {"messages": [], "max_tokens": NaN}}', 400, "NaN", id="nan"),
    pytest.param(b'{"params": {"messages": [], "max_tokens": ' + b"9" * 5000 + b"}}", 400, "digits",
                 id="huge-integer"),
    pytest.param(b'{"params": {"system": "\xff\xfe"}}', 400, "UTF-8", id="invalid-utf8"),
    pytest.param(b"[" * 10_000, 400, "deeper", id="deep-nesting"),
    pytest.param(message(role="root"), 422, "unknown role 'root'", id="unknown-role"),
    pytest.param(message(content={"$gt": ""}), 422, "content", id="wrong-type"),
    pytest.param(json.dumps({"params": {"messages": [{"role": "user", "content": "x" * MAX_BODY}]}}).encode(), 413,
                 str(MAX_BODY), id="huge-string"),
])
def test_hostile_body(proxy: ProxyProcess, up: ScriptedUpstream, body: bytes, status: int, word: str) -> None:
    reply = post(proxy.url + "/api/agent", body)
    assert reply.status == status, reply.body
    assert word in refused(reply)["message"]
    assert up.requests == []


_junk = st.one_of(
    st.binary(max_size=200),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
                 lambda inner: st.one_of(st.lists(inner, max_size=3),
                                         st.dictionaries(st.sampled_from(["params", "messages", "role", "content",
                                                                          "tools", "model", "max_tokens"]),
                                                         inner, max_size=4)),
                 max_leaves=10).map(lambda value: json.dumps({"params": value}).encode()),
)


@pytest.fixture
def answering(upstream: ScriptedUpstream) -> Iterator[ScriptedUpstream]:
    """The module's upstream answering every request with a whole text answer."""
    upstream.reset()
    upstream.respond_with(lambda request: sse_response(text_transcript()))
    yield upstream
    upstream.respond_with(None)
    upstream.reset()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_junk)
@example(json.dumps({"params": {"messages": [{"role": "user", "content": "hi"}]}}).encode())  # the 200 path, always
def test_generated_bodies_never_get_a_500(proxy: ProxyProcess, answering: ScriptedUpstream, body: bytes) -> None:
    """Refused with a 4xx naming the problem, or (a body that happens to be valid) streamed whole
    from exactly one upstream request."""
    asked = len(answering.requests)
    reply = post(proxy.url + "/api/agent", body)
    if reply.status == 200:
        events = sse_events(reply)
        assert events[-1]["type"] == "RUN_FINISHED" and text_of(events) == TEXT, events[-1]
        assert len(answering.requests) == asked + 1
        return
    refused(reply)
    assert len(answering.requests) == asked


def test_a_lone_surrogate_is_sent_on_as_the_replacement_character(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """The raw bytes ``\\ud83d`` (half an emoji, cut by a frontend's ``.slice()``): the run goes on
    with U+FFFD in its place, so the thread's later turns, which resend it, do not all fail."""
    up.script(sse_response([chunk({"role": "assistant", "content": "ok"}), chunk(finish_reason="stop")]))
    reply = post(proxy.url + "/api/agent", b'{"params": {"messages": [{"role": "user", "content": "hi \\ud83d"}]}}')
    assert reply.status == 200, reply.body
    assert b"RUN_FINISHED" in reply.body
    sent = up.wait_for_requests(1)[0]
    assert json.loads(sent.body)["messages"][-1]["content"] == "hi \ufffd"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
def test_a_body_not_sent_as_json_gets_415(proxy: ProxyProcess, up: ScriptedUpstream, content_type: str | None) -> None:
    """A page of another origin can send these without a CORS preflight: no run may start from one."""
    headers = {"content-type": content_type} if content_type else {}
    with new_client() as client:
        reply = client.post(proxy.url + "/api/agent", content=message(), headers=headers)
    assert reply.status_code == 415, reply.text
    error = reply.json()["error"]
    assert error["type"] == "unsupported_media_type" and "application/json" in error["message"], error
    assert (content_type or "no Content-Type") in error["message"], error
    assert not up.requests


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON",
                                          "application/vnd.ag-ui+json"])
def test_json_media_types_are_taken(proxy: ProxyProcess, up: ScriptedUpstream, content_type: str) -> None:
    up.script(sse_response(text_transcript()))
    assert text_of(sse_events(post(proxy.url + "/api/agent", message(), headers={"content-type": content_type}))) \
        == TEXT
