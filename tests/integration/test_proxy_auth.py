"""Inbound bearer-token auth, through the real proxy: refused without the token, and never forwarded."""

from __future__ import annotations

from typing import Any

import pytest

from ..support.agui_check import assert_valid_run, text_of
from ..support.openai_chat_streams import MODEL, TEXT, text_transcript
from ..support.proxy import ProxyProcess, ProxySetup, Reply, post
from ..support.upstream import ScriptedUpstream, sse_response

pytestmark = pytest.mark.integration

KEY = "sk-test-SECRET-abcdefghijklmnop"
TOKEN = "agui-client-token-7f3a9c1e5b2d4068"
BODY = {"params": {"messages": [{"role": "user", "content": "What is the weather in Paris?"}]}}


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    config = {
        "auth": {"bearer_tokens": ["${AGUI_PROXY_TOKEN}"]},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1",
                                 "api_key": "${TEST_OPENAI_KEY}", "model": MODEL}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }
    env = {"AGUI_PROXY_TOKEN": TOKEN, "TEST_OPENAI_KEY": KEY}
    return ProxySetup(config, env=env)


def assert_unauthorized(reply: Reply, challenge: str = "Bearer") -> dict[str, Any]:
    assert reply.status == 401, (reply.status, reply.body)
    assert reply.headers["www-authenticate"] == challenge
    assert reply.headers["content-type"] == "application/json"
    payload = reply.json()
    assert set(payload) == {"error"} and set(payload["error"]) == {"type", "message"}, payload
    assert payload["error"]["type"] and payload["error"]["message"]
    assert TOKEN not in reply.body.decode()
    error: dict[str, Any] = payload["error"]
    return error


def test_no_token(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    error = assert_unauthorized(post(f"{proxy.url}/api/agent", BODY))
    assert "Bearer" in error["message"]
    assert up.requests == []


# A bearer token sent and refused is RFC 6750's invalid_token; no bearer token at all is a bare challenge.
INVALID = 'Bearer error="invalid_token"'


@pytest.mark.parametrize(("authorization", "challenge"), [
    ("Bearer wrong-token", INVALID),
    (f"Bearer {TOKEN[:-1]}", INVALID),
    (f"Bearer {TOKEN}x", INVALID),
    (f"Basic {TOKEN}", "Bearer"),
    ("Bearer", "Bearer"),
    (TOKEN, "Bearer"),
])
def test_wrong_token(proxy: ProxyProcess, up: ScriptedUpstream, authorization: str, challenge: str) -> None:
    assert_unauthorized(post(f"{proxy.url}/api/agent", BODY, headers={"authorization": authorization}), challenge)
    assert up.requests == []


def test_right_token_streams_and_is_not_forwarded(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    reply = post(f"{proxy.url}/api/agent", BODY, headers={"authorization": f"Bearer {TOKEN}"})
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "text/event-stream"
    events, done = reply.frames
    assert done
    assert_valid_run(events)
    assert text_of(events) == TEXT

    (request,) = up.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    for name, value in request.headers.items():
        assert TOKEN not in value, f"the client's token reached the upstream in {name}"
    assert TOKEN.encode() not in request.body
    assert TOKEN not in proxy.output()
    assert KEY not in proxy.output()


def test_lowercase_scheme_is_accepted(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """RFC 9110 section 11.1: the auth scheme is case-insensitive."""
    up.script(sse_response(text_transcript()))
    reply = post(f"{proxy.url}/api/agent", BODY, headers={"authorization": f"bearer {TOKEN}"})
    assert reply.status == 200, reply.body
    assert text_of(reply.events) == TEXT
