"""The real proxy (its CLI) in front of a scripted Anthropic Messages upstream.

The upstream's answers are written here byte by byte in Anthropic's framing (``event:`` +
``data:``, padded JSON, ``ping``s), and each test checks what reached the client and what
reached the upstream.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..support.agui_check import reasoning_of, text_of, tool_calls_of
from ..support.proxy import ProxyProcess, ProxySetup, Reply, post, sse_events, sse_run_error
from ..support.upstream import SSE_HEADERS, Chunk, Cut, End, ScriptedUpstream, Status, body_response, split

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "sk-ant-api03-SECRET-abcdefghijklmnopqrstuv"
MODEL = "claude-sonnet-4-5"
BETA = "interleaved-thinking-2025-05-14"


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    config = {
        "upstreams": {"claude": {"provider": "anthropic", "base_url": "${UPSTREAM_URL}/v1", "api_key": "${TEST_KEY}",
                                 "model": MODEL, "headers": {"anthropic-beta": BETA},
                                 "body": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
                                 "retries": 0}},  # the errors' reports are tested here, retries in test_faults.py
        "routes": [{"path": "/api/claude", "upstream": "claude", "reasoning": True}],
    }
    return ProxySetup(config,
                     env={"TEST_KEY": KEY, "UPSTREAM_URL": upstream.url})


def event(payload: dict[str, Any]) -> bytes:
    # Anthropic pads its JSON before the closing brace (FORMATS.md section 0).
    return f"event: {payload['type']}\ndata: {json.dumps(payload, ensure_ascii=False)[:-1]}     }}\n\n".encode()


def stream(*payloads: dict[str, Any]) -> bytes:
    return b"".join(event(p) for p in payloads)


MESSAGE_START = {"type": "message_start", "message": {
    "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929", "content": [],
    "stop_reason": None, "usage": {"input_tokens": 40, "cache_read_input_tokens": 200,
                                   "cache_creation_input_tokens": 0, "output_tokens": 1}}}
PING = {"type": "ping"}


def block(index: int, content_block: dict[str, Any], *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "content_block_start", "index": index, "content_block": content_block},
            *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
            {"type": "content_block_stop", "index": index}]


def end(stop_reason: str, output_tokens: int) -> list[dict[str, Any]]:
    return [{"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
             "usage": {"output_tokens": output_tokens}}, {"type": "message_stop"}]


THINKING_TOOL_STREAM = stream(
    MESSAGE_START, PING,
    *block(0, {"type": "thinking", "thinking": "", "signature": ""},
           {"type": "thinking_delta", "thinking": "The user wants "}, {"type": "thinking_delta", "thinking": "Paris."},
           {"type": "signature_delta", "signature": "EqQBCkgIARABGAIiQL=="}),
    PING,
    *block(1, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Je regarde la météo 🌤"}),
    *block(2, {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {}},
           {"type": "input_json_delta", "partial_json": ""}, {"type": "input_json_delta", "partial_json": "{\"city\":"},
           {"type": "input_json_delta", "partial_json": " \"Paris\"}"}),
    *end("tool_use", 61),
)

OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                                   "parameters": {"type": "object",
                                                                  "properties": {"city": {"type": "string"}}}}}]


def claude(proxy: ProxyProcess, body: dict[str, Any]) -> Reply:
    return post(proxy.url + "/api/claude", body)


def stream_events(reply: Reply) -> list[dict[str, Any]]:
    return sse_events(reply, KEY)


def run_error(reply: Reply, code: str, *parts: str) -> list[dict[str, Any]]:
    return sse_run_error(reply, code, *parts, secrets=[KEY])


def test_thinking_text_and_tool_call(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), split(THINKING_TOOL_STREAM, 7), End())  # cut anywhere, even in UTF-8
    events = stream_events(claude(proxy, {"params": {
        "system": "Be brief.", "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": {"openai": OPENAI_TOOLS}, "tool_choice": {"type": "auto"}, "max_tokens": 900}}))
    assert reasoning_of(events) == "The user wants Paris."
    [signature] = [e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]
    assert signature["encryptedValue"] == "EqQBCkgIARABGAIiQL==" and signature["subtype"] == "message"
    assert text_of(events) == "Je regarde la météo 🌤"
    assert [(c, n, json.loads(a)) for c, n, a in tool_calls_of(events)] == [("toolu_01A", "get_weather",
                                                                             {"city": "Paris"})]
    assert events[-1] == {"type": "RUN_FINISHED", "threadId": events[0]["threadId"], "runId": events[0]["runId"],
                          "result": {"stopReason": "tool_use", "providerStopReason": "tool_use"},
                          "usage": [{"provider": "anthropic", "model": "claude-sonnet-4-5-20250929",
                                     "inputTokens": 240, "outputTokens": 61, "totalTokens": 301,
                                     "cachedInputTokens": 200, "cacheWriteInputTokens": 0}],
                          "timestamp": events[-1]["timestamp"]}

    [request] = up.requests
    assert (request.method, request.target) == ("POST", "/v1/messages")
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["anthropic-beta"] == BETA
    assert "authorization" not in request.headers
    assert request.json() == {
        "model": MODEL, "max_tokens": 900, "stream": True, "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}],
        "tools": [{"name": "get_weather", "description": "Weather in a city",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }


def test_the_tool_result_goes_back_in_anthropic_format(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """The client sends the turn back (thinking with its signature, the call, its result); the
    upstream gets tool_use and tool_result blocks with the ids kept, then answers."""
    up.script(Status(200, SSE_HEADERS), Chunk(stream(
        MESSAGE_START, *block(0, {"type": "text", "text": ""}, {"type": "text_delta", "text": "18 °C."}),
        *end("end_turn", 5))), End())
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "The user wants Paris.", "signature": "EqQBCkgIARABGAIiQL=="},
            {"type": "text", "text": "Je regarde la météo 🌤"}],
         "tool_calls": [{"id": "toolu_01A", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_01A", "content": "18 °C, sunny"},
    ]
    events = stream_events(claude(proxy, {"params": {"messages": history, "tools": {"openai": OPENAI_TOOLS}}}))
    assert text_of(events) == "18 °C."
    assert events[-1]["result"] == {"stopReason": "end_turn", "providerStopReason": "end_turn"}
    assert up.requests[0].json()["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "The user wants Paris.", "signature": "EqQBCkgIARABGAIiQL=="},
            {"type": "text", "text": "Je regarde la météo 🌤"},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18 °C, sunny"}]},
    ]


def test_529_overloaded(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
                                  "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}))
    events = run_error(claude(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                       "upstream_unavailable", "529", "Overloaded (overloaded_error)")
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]


def test_401_echoing_the_key(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(401, {"type": "error", "error": {"type": "authentication_error",
                                                             "message": f"invalid x-api-key {KEY[:20]}..."}}))
    reply = claude(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}})
    events = run_error(reply, "upstream_auth_failed", "401", "authentication_error")
    assert KEY[:20] not in events[-1]["message"] and KEY[5:15] not in events[-1]["message"]


def test_in_band_overloaded_error_after_some_text(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    error = (b'event: error\ndata: {"type":"error","error":{"details":null,"type":"overloaded_error",'
             b'"message":"Overloaded"}        }\n\n')
    up.script(Status(200, SSE_HEADERS), Chunk(stream(
        MESSAGE_START, {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Partial"}})),
              Chunk(error), End())
    events = run_error(claude(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                       "upstream_error", "Overloaded (overloaded_error)")
    assert text_of(events) == "Partial"
    assert [e["type"] for e in events][-2:] == ["TEXT_MESSAGE_END", "RUN_ERROR"]


def test_cut_before_message_stop(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), Chunk(stream(
        MESSAGE_START, *block(0, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Hel"}))), Cut())
    events = run_error(claude(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                       "upstream_truncated")
    assert text_of(events) == "Hel"


def test_no_key_in_the_log(proxy: ProxyProcess) -> None:
    output = proxy.output()
    assert KEY not in output and KEY[:20] not in output
    assert "Traceback" not in output
