"""An upstream that answers the streaming request with ``200 application/json`` and the whole answer
(LiteLLM's ``mock_response``, some gateways), through the real proxy: the events its stream would
have given, for every provider; a provider error body in it ends the run with that provider's
message.  The conversion itself is held to the recordings in tests/providers/test_whole_response.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..support.agui_check import reasoning_of, text_of, tool_calls_of, types
from ..support.proxy import ProxyProcess, ProxySetup, post, sse_events, sse_run_error
from ..support.upstream import ScriptedUpstream, body_response

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "sk-whole-answers-SECRET"
PROVIDERS = ["openai-chat", "openai-responses", "anthropic", "gemini"]


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    return ProxySetup({
        "upstreams": {name: {"provider": name, "base_url": f"{upstream.url}/{name}", "api_key": KEY,
                             "model": "test-model", "retries": 0} for name in PROVIDERS},
        "routes": [{"path": f"/api/{name}", "upstream": name, "reasoning": True} for name in PROVIDERS],
    })


ARGS = {"city": "Paris"}
WHOLE: dict[str, dict[str, Any]] = {
    "openai-chat": {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1763683200, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Checking.", "reasoning_content": "Need the weather.",
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}},
    "openai-responses": {
        "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need the weather."}],
             "encrypted_content": "gAAAA-ENC"},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
             "arguments": '{"city": "Paris"}', "status": "completed"}],
        "usage": {"input_tokens": 20, "output_tokens": 10, "total_tokens": 30}},
    "anthropic": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "thinking", "thinking": "Need the weather.", "signature": "SIG"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": ARGS}],
        "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 20, "output_tokens": 10}},
    "gemini": {
        "candidates": [{"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": [
            {"text": "Need the weather.", "thought": True}, {"text": "Checking."},
            {"functionCall": {"name": "get_weather", "args": ARGS, "id": "call_1"}, "thoughtSignature": "SIG"}]}}],
        "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 10, "totalTokenCount": 30},
        "modelVersion": "gemini-2.5-flash"},
}


def ask(proxy: ProxyProcess, name: str) -> Any:
    return post(f"{proxy.url}/api/{name}", {"params": {"messages": [{"role": "user", "content": "Weather?"}]}})


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_whole_json_answer_is_streamed_as_its_events(proxy: ProxyProcess, up: ScriptedUpstream, name: str) -> None:
    up.script(body_response(200, WHOLE[name], content_type="application/json; charset=utf-8"))
    events = sse_events(ask(proxy, name), KEY)
    assert text_of(events) == "Checking."
    assert reasoning_of(events) == "Need the weather."
    [(call_id, call_name, arguments)] = tool_calls_of(events)
    assert (call_id, call_name, json.loads(arguments)) == ("call_1", "get_weather", ARGS)
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["result"]["stopReason"] == "tool_use"
    assert events[-1]["usage"][0]["inputTokens"] == 20
    assert types(events).count("TEXT_MESSAGE_CONTENT") == 1
    assert len(up.requests) == 1


@pytest.mark.parametrize(("name", "body", "message"), [
    ("openai-chat", {"error": {"message": "The model is overloaded", "type": "server_error"}},
     "The model is overloaded"),
    ("anthropic", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "Overloaded"),
    ("gemini", {"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}},
     "Internal error encountered."),
    ("openai-responses", {"id": "resp_1", "object": "response", "status": "failed", "output": [],
                          "error": {"code": "server_error", "message": "The server had an error"}},
     "The server had an error"),
])
def test_a_provider_error_in_a_whole_answer_is_run_error(proxy: ProxyProcess, up: ScriptedUpstream, name: str,
                                                         body: dict[str, Any], message: str) -> None:
    up.script(body_response(200, body))
    events = sse_run_error(ask(proxy, name), "upstream_error", message, secrets=[KEY])
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


def test_a_json_answer_that_is_not_json_is_a_protocol_error(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(200, b'{"id": "chatcmpl-1", "choices": [', content_type="application/json"))
    sse_run_error(ask(proxy, "openai-chat"), "upstream_protocol_error", "not JSON", secrets=[KEY])
