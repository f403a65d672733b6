"""The real proxy (its CLI, in a subprocess) in front of a scripted OpenAI Chat Completions upstream.

One proxy and one upstream serve the whole module; each test scripts the upstream's answer byte
by byte and reads what reached the client (and what reached the upstream).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from ..support.agui_check import text_of, tool_calls_of, types
from ..support.openai_chat_streams import (
    ANTHROPIC_TOOLS,
    EXPECTED_USAGE,
    MODEL,
    OPENAI_TOOLS,
    TEXT,
    TEXT_PIECES,
    TIME_ARGS,
    TOOL_TEXT,
    WEATHER_ARGS,
    openai_error,
    text_transcript,
    tool_transcript,
)
from ..support.proxy import (
    ProxyProcess,
    ProxySetup,
    RawStream,
    Reply,
    open_stream,
    post,
    sse_events,
    sse_run_error,
    wait_for_output,
)
from ..support.upstream import (
    SSE_HEADERS,
    Chunk,
    Cut,
    End,
    Pause,
    RefusedPort,
    ScriptedUpstream,
    Status,
    WaitFor,
    body_response,
    split,
    sse_event,
    sse_response,
    sse_steps,
)

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "sk-test-SECRET-abcdefghijklmnop"
ORGANIZATION = "org-test-0042"
MAX_BODY = 4096


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream, refused: RefusedPort) -> ProxySetup:
    config = {
        "limits": {"max_body_bytes": MAX_BODY},
        "upstreams": {
            # No retries: each failure here maps to one RUN_ERROR (retries: tests/integration/test_faults.py).
            "openai": {"provider": "openai-chat", "base_url": "${UPSTREAM_URL}/v1", "api_key": "${TEST_OPENAI_KEY}",
                       "model": MODEL, "headers": {"OpenAI-Organization": ORGANIZATION}, "retries": 0},
            "down": {"provider": "openai-chat", "base_url": f"{refused.url}/v1", "api_key": "${TEST_OPENAI_KEY}",
                     "model": MODEL, "retries": 0},
        },
        "routes": [{"path": "/api/agent", "upstream": "openai"}, {"path": "/api/down", "upstream": "down"}],
    }
    env = {"TEST_OPENAI_KEY": KEY, "UPSTREAM_URL": upstream.url}
    return ProxySetup(config, env=env)


def agent(proxy: ProxyProcess, path: str = "/api/agent") -> str:
    return proxy.url + path


def branderux(messages: list[dict[str, Any]] | None = None, **params: Any) -> dict[str, Any]:
    return {"params": {"messages": messages or [{"role": "user", "content": "What is the weather in Paris?"}],
                       **params}}


def stream_events(reply: Reply) -> list[dict[str, Any]]:
    return sse_events(reply, KEY)


def run_error(reply: Reply, code: str, *message_parts: str) -> list[dict[str, Any]]:
    return sse_run_error(reply, code, *message_parts, secrets=[KEY])


# -- streams that succeed -------------------------------------------------------------------------


def test_text_stream(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    events = stream_events(post(agent(proxy), branderux()))

    assert types(events) == ["RUN_STARTED", "TEXT_MESSAGE_START", *["TEXT_MESSAGE_CONTENT"] * len(TEXT_PIECES),
                             "TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert [e["delta"] for e in events[2:-2]] == TEXT_PIECES
    assert text_of(events) == TEXT
    assert events[1]["role"] == "assistant"
    assert len({e["messageId"] for e in events[1:-1]}) == 1
    started, finished = events[0], events[-1]
    assert started["threadId"] and started["runId"]
    assert (finished["threadId"], finished["runId"]) == (started["threadId"], started["runId"])
    assert finished["usage"] == EXPECTED_USAGE
    assert finished["result"]["stopReason"] == "end_turn"


def test_text_stream_split_anywhere(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """Five-byte writes cut lines, events and multi-byte characters: the same text comes out."""
    body = b"".join(step.data for step in sse_steps(text_transcript()) if isinstance(step, Chunk))
    up.script(Status(200, SSE_HEADERS), split(body, 5), End())
    events = stream_events(post(agent(proxy), branderux()))
    assert text_of(events) == TEXT
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["usage"] == EXPECTED_USAGE


def test_text_and_tool_call_stream(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(tool_transcript()))
    events = stream_events(post(agent(proxy), branderux(tools={"openai": OPENAI_TOOLS})))

    assert text_of(events) == TOOL_TEXT
    assert tool_calls_of(events) == [("call_W3ath3r0001", "get_weather", WEATHER_ARGS),
                                     ("call_T1me0002", "get_time", TIME_ARGS)]
    kinds = types(events)
    assert kinds.index("TEXT_MESSAGE_END") < kinds.index("TOOL_CALL_START")
    text_id = events[1]["messageId"]
    for start in (e for e in events if e["type"] == "TOOL_CALL_START"):
        assert start.get("parentMessageId") == text_id
    assert kinds.count("TOOL_CALL_END") == 2
    assert kinds[-1] == "RUN_FINISHED"
    assert events[-1]["usage"] == EXPECTED_USAGE
    assert events[-1]["result"]["stopReason"] == "tool_use"


# -- what reaches the upstream ---------------------------------------------------------------------


def test_request_sent_upstream(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    history = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "What is the weather in Paris?"},
    ]
    body = branderux(history, system="You are a weather assistant.", tools={"openai": OPENAI_TOOLS},
                     max_tokens=256)
    stream_events(post(agent(proxy), body, headers={"x-client-only": "do-not-forward", "cookie": "session=abc"}))

    (request,) = up.requests
    assert (request.method, request.target) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["openai-organization"] == ORGANIZATION
    assert request.headers["content-type"] == "application/json"
    assert "x-client-only" not in request.headers and "cookie" not in request.headers
    assert request.json() == {
        "model": MODEL,
        "messages": [{"role": "system", "content": "You are a weather assistant."}, *history],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 256,
        "tools": OPENAI_TOOLS,
    }


def test_default_max_tokens_and_no_tools(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    stream_events(post(agent(proxy), branderux()))
    sent = up.requests[0].json()
    assert sent["max_tokens"] == 4000
    assert "tools" not in sent and "tool_choice" not in sent
    assert sent["messages"] == [{"role": "user", "content": "What is the weather in Paris?"}]


def test_anthropic_tools_are_converted(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(tool_transcript()))
    body = branderux(tools={"anthropic": ANTHROPIC_TOOLS}, tool_choice={"type": "tool", "name": "get_weather"})
    stream_events(post(agent(proxy), body))
    sent = up.requests[0].json()
    assert sent["tools"] == [
        {"type": "function", "function": {"name": t["name"], "description": t["description"],
                                          "parameters": t["input_schema"]}}
        for t in ANTHROPIC_TOOLS
    ]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_text_reaches_the_client_before_the_upstream_finishes(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    release = threading.Event()
    transcript = text_transcript()
    up.script(Status(200, SSE_HEADERS), sse_steps(transcript[:2], done=False), WaitFor(release),
              sse_steps(transcript[2:]), End())
    try:
        with open_stream(agent(proxy), branderux(), timeout=5) as reader:
            first = reader.until("TEXT_MESSAGE_CONTENT")
            assert not release.is_set()
            assert first["delta"] == TEXT_PIECES[0]
            release.set()
            body = reader.rest()
    finally:
        release.set()
    assert text_of(stream_events(Reply(200, reader.response.headers, body))) == TEXT


# -- upstream failures ------------------------------------------------------------------------------


def test_upstream_401(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(401, openai_error("Incorrect API key provided: sk-test-****mnop. You can find your API "
                                              "key at https://platform.openai.com/account/api-keys.",
                                              "invalid_request_error", "invalid_api_key")))
    events = run_error(post(agent(proxy), branderux()), "upstream_auth_failed", "401", "Incorrect API key provided")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


def test_upstream_429(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    message = "Rate limit reached for gpt-4o-mini in organization org-test-0042 on requests per min (RPM)"
    up.script(body_response(429, openai_error(message, "requests", "rate_limit_exceeded"),
                            headers={"retry-after": "1"}))
    events = run_error(post(agent(proxy), branderux()), "upstream_rate_limited", "429", "Rate limit reached")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


def test_upstream_500(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(500, openai_error("The server had an error while processing your request.",
                                              "server_error")))
    events = run_error(post(agent(proxy), branderux()), "upstream_unavailable", "500",
                       "The server had an error while processing your request.")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


def test_upstream_502_html_page(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    page = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
            "</center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")
    up.script(body_response(502, page, content_type="text/html"))
    events = run_error(post(agent(proxy), branderux()), "upstream_unavailable", "502", "HTML")
    assert "<" not in events[-1]["message"]
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


def test_upstream_connection_refused(proxy: ProxyProcess, refused: RefusedPort) -> None:
    events = run_error(post(agent(proxy, "/api/down"), branderux()), "upstream_unavailable",
                       "could not reach the upstream")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


def test_upstream_cut_mid_event(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    transcript = text_transcript()
    partial = sse_event(transcript[2])[:40]
    up.script(Status(200, SSE_HEADERS), sse_steps(transcript[:2], done=False), Chunk(partial), Cut())
    events = run_error(post(agent(proxy), branderux()), "upstream_truncated", "mid-stream")
    assert types(events) == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
                             "RUN_ERROR"]
    assert text_of(events) == TEXT_PIECES[0]


def test_upstream_ends_without_done(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()[:3], done=False), End())
    events = run_error(post(agent(proxy), branderux()), "upstream_truncated", "[DONE]")
    assert types(events)[-2:] == ["TEXT_MESSAGE_END", "RUN_ERROR"]
    assert text_of(events) == "".join(TEXT_PIECES[:2])


def test_upstream_in_band_error_closes_the_open_tool_call(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    error = openai_error("The model produced invalid content. Consider modifying your prompt.", "server_error")
    up.script(sse_response([*tool_transcript()[:6], error]))
    events = run_error(post(agent(proxy), branderux()), "upstream_error",
                       "The model produced invalid content. Consider modifying your prompt.")
    assert types(events)[-3:] == ["TOOL_CALL_ARGS", "TOOL_CALL_END", "RUN_ERROR"]
    assert tool_calls_of(events) == [("call_W3ath3r0001", "get_weather", '{"city": "Par')]
    assert text_of(events) == TOOL_TEXT


@pytest.mark.parametrize(("content_type", "body"), [
    pytest.param("text/html", "<html><body><h1>Welcome to nginx!</h1></body></html>", id="html-page"),
    pytest.param("text/plain", "upstream is up", id="plain-text"),
])
def test_upstream_200_that_is_not_an_event_stream(proxy: ProxyProcess, up: ScriptedUpstream, content_type: str,
                                                  body: str) -> None:
    """A 2xx whose content-type is neither text/event-stream nor a whole JSON answer
    (test_whole_answers.py) is not the provider's protocol (a wrong base_url): ARCHITECTURE.md
    ("checks status and content-type") and FORMATS.md section 0 ("Check status and content-type
    before starting SSE parsing").
    Reporting it as a stream cut short before ``[DONE]`` would send the reader the wrong way."""
    up.script(body_response(200, body, content_type=content_type))
    events = run_error(post(agent(proxy), branderux()), "upstream_protocol_error", content_type)
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


# -- secrets ------------------------------------------------------------------------------------------


def assert_no_secret(data: str | bytes, *fragments: str) -> None:
    """Neither the key, nor ``fragments``, nor any eight characters of the key in a row."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for fragment in (KEY, *fragments, *(KEY[i:i + 8] for i in range(len(KEY) - 7))):
        assert fragment not in text, f"{fragment!r} leaked"


@pytest.mark.parametrize("echo", ["sk-test-****mnop", "sk-test-SECRET-abcdefgh****mnop", "SECRET-abcdefghijk"])
def test_upstream_401_echoing_the_key(proxy: ProxyProcess, up: ScriptedUpstream, echo: str) -> None:
    up.script(body_response(401, openai_error(f"Incorrect API key provided: {echo}. You can find your API key at "
                                              "https://platform.openai.com/account/api-keys.",
                                              "invalid_request_error", "invalid_api_key")))
    seen = proxy.output().count("upstream_auth_failed")
    reply = post(agent(proxy), branderux())
    run_error(reply, "upstream_auth_failed", "Incorrect API key provided")
    assert_no_secret(reply.body, echo)
    output = wait_for_output(proxy, "upstream_auth_failed", seen)
    assert_no_secret(output, echo)


def test_in_band_error_echoing_the_key(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """An error chunk inside the 200 stream that quotes the key (as a relaying router may)."""
    error = openai_error(f"Upstream provider rejected the request: invalid x-api-key {KEY}", "invalid_request_error")
    up.script(sse_response([*text_transcript()[:2], error]))
    seen = proxy.output().count("upstream_error")
    reply = post(agent(proxy), branderux())
    run_error(reply, "upstream_error", "Upstream provider rejected the request")
    output = wait_for_output(proxy, "upstream_error", seen)
    assert_no_secret(output)
    assert_no_secret(reply.body)


# -- bad input ------------------------------------------------------------------------------------------


def assert_json_error(reply: Reply, status: int, *message_parts: str) -> dict[str, Any]:
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["content-type"] == "application/json"
    payload = reply.json()
    assert set(payload) == {"error"} and set(payload["error"]) == {"type", "message"}, payload
    assert isinstance(payload["error"]["type"], str) and payload["error"]["type"]
    for part in message_parts:
        assert part in payload["error"]["message"], payload
    return payload["error"]


@pytest.mark.parametrize(("body", "status", "message_parts"), [
    pytest.param(b'{"params": {"messages": [', 400, ["not valid JSON"], id="malformed-json"),
    pytest.param(b'{"params": {"system": "caf\xe9"}}', 400, ["UTF-8"], id="not-utf8"),
    pytest.param(b"", 400, ["empty"], id="empty"),
    pytest.param(b'[{"role": "user", "content": "hi"}]', 422, ["JSON object"], id="array"),
    pytest.param(b'{"params": {"system": "hi"}}', 422, ["params.messages"], id="messages-missing"),
    pytest.param(b'{"params": {"messages": [{"role": "wizard", "content": "hi"}]}}', 422,
                 ["params.messages[0].role", "wizard"], id="unknown-role"),
    pytest.param(b'{"params": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": "1000"}}', 422,
                 ["params.max_tokens"], id="max-tokens-string"),
])
def test_bad_body(proxy: ProxyProcess, up: ScriptedUpstream, body: bytes, status: int,
                  message_parts: list[str]) -> None:
    assert_json_error(post(agent(proxy), body), status, *message_parts)
    assert up.requests == []


def big_body() -> bytes:
    body = json.dumps(branderux(system="x" * MAX_BODY)).encode()
    assert len(body) > MAX_BODY
    return body


def test_body_over_the_limit_with_content_length(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    assert_json_error(post(agent(proxy), big_body()), 413, str(MAX_BODY))
    assert up.requests == []


def test_body_over_the_limit_chunked(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    data = big_body()
    pieces = (data[i:i + 1000] for i in range(0, len(data), 1000))  # a generator: sent chunked
    assert_json_error(post(agent(proxy), pieces), 413, str(MAX_BODY))
    assert up.requests == []


def test_body_just_under_the_limit_is_accepted(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    body = json.dumps(branderux(system="x")).encode()
    body = body.replace(b'"x"', b'"' + b"x" * (MAX_BODY - len(body) + 1) + b'"')
    assert len(body) == MAX_BODY
    up.script(sse_response(text_transcript()))
    stream_events(post(agent(proxy), iter([body[:2000], body[2000:]])))


def test_get_on_the_route(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    reply = post(agent(proxy), b"", method="GET")
    assert_json_error(reply, 405, "POST")
    assert reply.headers["allow"] == "POST"
    assert up.requests == []


def test_unknown_path(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    assert_json_error(post(agent(proxy, "/api/nothing-here"), branderux()), 404, "/api/nothing-here")
    assert up.requests == []


# -- a client that leaves ----------------------------------------------------------------------------


def test_client_leaves_mid_stream(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    never = threading.Event()
    transcript = text_transcript()
    up.script(Status(200, SSE_HEADERS), sse_steps(transcript[:2], done=False), WaitFor(never),
              sse_steps(transcript[2:]), End())
    try:
        with RawStream(proxy.url, "/api/agent", branderux()) as client:
            client.read_until(b'"delta":"Bonjour"')
            (request,) = up.wait_for_requests(1)
            left_at = client.close()
            closed_at = up.wait_closed(request.connection)
    finally:
        never.set()
    print(f"upstream connection closed {(closed_at - left_at) * 1000:.1f} ms after the client left mid-stream")
    assert closed_at - left_at < 1.0
    still_serving(proxy, up)


def test_client_leaves_before_the_upstream_answers(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    never = threading.Event()
    up.script(WaitFor(never), sse_response(text_transcript()))
    try:
        with RawStream(proxy.url, "/api/agent", branderux()) as client:
            client.read_until(b'"type":"RUN_STARTED"')
            (request,) = up.wait_for_requests(1)
            left_at = client.close()
            closed_at = up.wait_closed(request.connection)
    finally:
        never.set()
    print(f"upstream connection closed {(closed_at - left_at) * 1000:.1f} ms after the client left "
          "before the upstream's first byte")
    assert closed_at - left_at < 1.0
    still_serving(proxy, up)


def still_serving(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    assert text_of(stream_events(post(agent(proxy), branderux()))) == TEXT


def test_no_traceback_logged(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """Each way a run ends badly, served here (so the test checks something when run alone): a
    stream cut mid-answer, an upstream that refuses connections, a client that leaves; each is
    logged (waited for), and nothing the proxy logged is an unhandled exception."""
    seen = {line: proxy.output().count(line) for line in ("run ended with upstream_truncated",
                                                          "run ended with upstream_unavailable", "the client left")}
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()[:3], done=False), Cut())
    run_error(post(agent(proxy), branderux()), "upstream_truncated")
    run_error(post(agent(proxy, "/api/down"), branderux()), "upstream_unavailable")
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()[:2], done=False), Pause(30), End())
    with RawStream(proxy.url, "/api/agent", branderux()) as client:
        client.read_until(b'"delta":"Bonjour"')
    for line, count in seen.items():
        output = wait_for_output(proxy, line, count)
    assert "Traceback" not in output, output
