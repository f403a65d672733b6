"""The real proxy (its CLI) in front of a scripted Gemini ``streamGenerateContent`` upstream.

The upstream's answers are written here byte by byte in Gemini's framing (``data:`` lines only,
CRLF, no end marker), and each test checks what reached the client and what reached the
upstream: above all that the key travels in ``x-goog-api-key`` and never in the URL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..support.agui_check import reasoning_of, text_of, tool_calls_of
from ..support.proxy import (
    ProxyProcess,
    ProxySetup,
    Reply,
    assert_no_secret,
    eventually,
    post,
    sse_events,
    sse_run_error,
)
from ..support.upstream import SSE_HEADERS, Chunk, Cut, End, ScriptedUpstream, Status, body_response, split

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "AIzaSyD-SECRET-0123456789abcdefghijklm"
MODEL = "gemini-2.5-flash"


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    config = {
        "upstreams": {"gemini": {"provider": "gemini", "base_url": "${UPSTREAM_URL}/v1beta", "api_key": "${TEST_KEY}",
                                 "model": MODEL,
                                 "body": {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}}}},
        "routes": [{"path": "/api/gemini", "upstream": "gemini", "reasoning": True}],
    }
    return ProxySetup(config,
                     env={"TEST_KEY": KEY, "UPSTREAM_URL": upstream.url})


def stream(*payloads: dict[str, Any]) -> bytes:
    # Gemini: ": " after keys, CRLF line ends (FORMATS.md section 0).
    return b"".join(b"data: " + json.dumps(p, ensure_ascii=False).encode() + b"\r\n\r\n" for p in payloads)


def chunk(*parts: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": list(parts), "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage or {"promptTokenCount": 21, "totalTokenCount": 21},
            "modelVersion": "gemini-2.5-flash-001", "responseId": "resp_abc"}


FINAL_USAGE = {"promptTokenCount": 21, "candidatesTokenCount": 12, "thoughtsTokenCount": 30, "totalTokenCount": 63}
TOOL_STREAM = stream(
    chunk({"text": "**Checking** the weather.", "thought": True}),
    chunk({"text": "Je regarde ", "thoughtSignature": "Cs0BAY89a1+sig"}, {"text": "la météo 🌤"}),
    chunk({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
          {"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}}}, finish="STOP", usage=FINAL_USAGE),
)
GEMINI_TOOLS = [{"name": "get_weather", "description": "Weather in a city",
                 "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}]


def gemini(proxy: ProxyProcess, body: dict[str, Any]) -> Reply:
    return post(proxy.url + "/api/gemini", body)


def stream_events(reply: Reply) -> list[dict[str, Any]]:
    return sse_events(reply, KEY)


def run_error(reply: Reply, code: str, *parts: str) -> list[dict[str, Any]]:
    return sse_run_error(reply, code, *parts, secrets=[KEY])


def test_thoughts_text_and_parallel_calls(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), split(TOOL_STREAM, 5), End())  # a CRLF split across writes too
    events = stream_events(gemini(proxy, {"params": {
        "system": "Be brief.", "messages": [{"role": "user", "content": "Weather in Paris and Lyon?"}],
        "tools": {"gemini": GEMINI_TOOLS}, "tool_choice": {"type": "any"}, "max_tokens": 512}}))
    assert reasoning_of(events) == "**Checking** the weather."
    assert text_of(events) == "Je regarde la météo 🌤"
    calls = tool_calls_of(events)
    assert [(n, json.loads(a)) for _, n, a in calls] == [("get_weather", {"city": "Paris"}),
                                                          ("get_weather", {"city": "Lyon"})]
    assert len({c for c, _, _ in calls}) == 2  # Gemini sends no ids: each call gets its own
    assert events[-1]["result"] == {"stopReason": "tool_use", "providerStopReason": "STOP"}
    assert events[-1]["usage"] == [{"provider": "gemini", "model": "gemini-2.5-flash-001", "inputTokens": 21,
                                    "outputTokens": 42, "totalTokens": 63, "reasoningTokens": 30}]

    [request] = up.requests
    assert request.method == "POST"
    assert request.target == f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    assert request.headers["x-goog-api-key"] == KEY
    assert KEY not in request.target and "key=" not in request.target
    assert "authorization" not in request.headers
    assert request.json() == {
        "contents": [{"role": "user", "parts": [{"text": "Weather in Paris and Lyon?"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [{"functionDeclarations": GEMINI_TOOLS}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "generationConfig": {"maxOutputTokens": 512, "thinkingConfig": {"includeThoughts": True}},
    }


def test_the_tool_results_go_back_in_gemini_format(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """Results named after the calls they answer (looked up by id), both in one user turn, and
    the call's signature back in the call's part."""
    up.script(Status(200, SSE_HEADERS), Chunk(stream(chunk({"text": "18 °C and 21 °C."}, finish="STOP",
                                                           usage=FINAL_USAGE))), End())
    history = [
        {"role": "user", "content": "Weather in Paris and Lyon?"},
        {"role": "assistant", "content": "Je regarde", "tool_calls": [
            {"id": "call_p", "type": "function", "encryptedValue": "Cs0BAY89a1+sig",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"id": "call_l", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Lyon\"}"}}]},
        {"role": "tool", "tool_call_id": "call_p", "content": "18 °C"},
        {"role": "tool", "tool_call_id": "call_l", "content": "{\"celsius\": 21}"},
    ]
    events = stream_events(gemini(proxy, {"params": {"messages": history, "tools": {"gemini": GEMINI_TOOLS}}}))
    assert text_of(events) == "18 °C and 21 °C."
    assert events[-1]["result"] == {"stopReason": "end_turn", "providerStopReason": "STOP"}
    assert up.requests[0].json()["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Lyon?"}]},
        {"role": "model", "parts": [
            {"text": "Je regarde"},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_p"},
             "thoughtSignature": "Cs0BAY89a1+sig"},
            {"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}, "id": "call_l"}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "id": "call_p", "response": {"output": "18 °C"}}},
            {"functionResponse": {"name": "get_weather", "id": "call_l", "response": {"celsius": 21}}}]},
    ]


def test_400_invalid_argument(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    message = "* GenerateContentRequest.contents: contents is not specified"
    up.script(body_response(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": message}}))
    events = run_error(gemini(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                       "upstream_rejected", "400", "contents is not specified (INVALID_ARGUMENT)")
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]


def test_400_echoing_the_key(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    # Gemini sometimes wraps its error body in a list.
    message = f"API key not valid: {KEY}. Please pass a valid API key."
    error = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": message}}
    up.script(body_response(400, json.dumps([error])))
    events = run_error(gemini(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                       "upstream_rejected", "API key not valid")
    assert_no_secret(events[-1]["message"], KEY)


def test_in_band_error_after_some_text(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), Chunk(stream(chunk({"text": "Partial"}))),
              Chunk(stream({"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}})),
              End())
    events = run_error(gemini(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                       "upstream_error", "Internal error encountered. (INTERNAL)")
    assert text_of(events) == "Partial"


def test_blocked_prompt(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), Chunk(stream({"promptFeedback": {"blockReason": "SAFETY"},
                                                      "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
                                                      "modelVersion": "gemini-2.5-flash-001"})), End())
    run_error(gemini(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
              "content_filtered", "SAFETY")


def test_safety_stop_after_some_text(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), Chunk(stream(chunk({"text": "Once"}), chunk(finish="SAFETY"))), End())
    events = run_error(gemini(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                       "content_filtered", "SAFETY")
    assert text_of(events) == "Once"


@pytest.mark.parametrize("ending", ["end", "cut"])
def test_body_ends_without_a_finish_reason(proxy: ProxyProcess, up: ScriptedUpstream, ending: str) -> None:
    up.script(Status(200, SSE_HEADERS), Chunk(stream(chunk({"text": "Hal"}))), End() if ending == "end" else Cut())
    events = run_error(gemini(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                       "upstream_truncated")
    assert text_of(events) == "Hal"


def test_no_key_in_the_log(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """An upstream that echoes the key in an error body and in a 200 stream's error: the proxy
    logs each run's end (checked), and no piece of the key is in anything it logged."""
    seen = proxy.output().count("run ended with")
    error = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": f"API key not valid: {KEY}"}}
    up.script(body_response(400, json.dumps([error])))
    up.script(Status(200, SSE_HEADERS), Chunk(stream({"error": {"code": 500, "status": "INTERNAL",
                                                                "message": f"key {KEY[4:30]} failed"}})), End())
    hi = {"params": {"messages": [{"role": "user", "content": "hi"}]}}
    run_error(gemini(proxy, hi), "upstream_rejected")
    run_error(gemini(proxy, hi), "upstream_error")
    output = eventually(proxy.output, lambda text: text.count("run ended with") >= seen + 2, "both runs' log lines")
    assert_no_secret(output, KEY)
    assert "Traceback" not in output
