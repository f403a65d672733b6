"""The real proxy (its CLI) in front of a scripted OpenAI Responses upstream, and Azure-style routes.

One proxy and one upstream serve the module; each test scripts the upstream's answer byte by byte
and checks what reached the client and exactly what reached the upstream.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..support.agui_check import assert_valid_run, reasoning_of, text_of, tool_calls_of, types
from ..support.openai_chat_streams import text_transcript
from ..support.proxy import (
    ProxyProcess,
    ProxySetup,
    Reply,
    assert_no_secret,
    post,
    sse_events,
    sse_run_error,
    wait_for_output,
)
from ..support.upstream import SSE_HEADERS, Chunk, End, ScriptedUpstream, Status, body_response, sse_response
from .openai_responses_streams import (
    CALLS,
    ENCRYPTED,
    EXPECTED_USAGE,
    MODEL,
    REASONING,
    TEXT,
    TEXT_PIECES,
    USAGE,
    completed,
    full_transcript,
    message_item,
    numbered,
    response,
    responses_reply,
    started,
    wire,
)

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "sk-test-RESPONSES-0123456789abcdef"
AZURE_KEY = "azkey0123456789abcdef0123456789ab"
AZURE_VERSION = "2024-10-21"
EXTRAS = {"reasoning": {"effort": "low", "summary": "auto"}, "store": False,
          "include": ["reasoning.encrypted_content"]}


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    config = {
        "upstreams": {
            "responses": {"provider": "openai-responses", "base_url": "${UPSTREAM_URL}/v1", "api_key": "${TEST_KEY}",
                          "model": MODEL, "body": EXTRAS, "retries": 0},  # retries: test_faults.py
            # Azure OpenAI: a deployment URL, the key in an "api-key" header, the API version as a query.
            "azure": {"provider": "openai-chat", "model": "gpt-4o",
                      "base_url": "${UPSTREAM_URL}/openai/deployments/gpt-4o-prod",
                      "headers": {"api-key": "${AZURE_OPENAI_API_KEY}"}, "query": {"api-version": AZURE_VERSION}},
            "azure-responses": {"provider": "openai-responses", "model": "gpt-5-prod",
                                "base_url": "${UPSTREAM_URL}/openai/v1",
                                "headers": {"api-key": "${AZURE_OPENAI_API_KEY}"}},
        },
        "routes": [{"path": "/api/responses", "upstream": "responses", "reasoning": True},
                   {"path": "/api/responses-auto", "upstream": "responses"},
                   {"path": "/api/azure", "upstream": "azure"},
                   {"path": "/api/azure-responses", "upstream": "azure-responses"}],
    }
    env = {"TEST_KEY": KEY, "AZURE_OPENAI_API_KEY": AZURE_KEY, "UPSTREAM_URL": upstream.url}
    return ProxySetup(config, env=env)


def ask(proxy: ProxyProcess, path: str = "/api/responses", **params: Any) -> Reply:
    params.setdefault("messages", [{"role": "user", "content": "Weather and time in Paris?"}])
    return post(proxy.url + path, {"params": params})


def stream_events(reply: Reply) -> list[dict[str, Any]]:
    return sse_events(reply, KEY, AZURE_KEY)


def run_error(reply: Reply, code: str, *message_parts: str) -> list[dict[str, Any]]:
    events = sse_run_error(reply, code, *message_parts, secrets=[KEY, AZURE_KEY])
    assert types(events).count("RUN_ERROR") == 1, types(events)
    return events


# -- streams that succeed -------------------------------------------------------------------------


def test_reasoning_text_and_parallel_calls_in_small_writes(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """Seven-byte writes cut event names, JSON and the emoji anywhere."""
    up.script(responses_reply(full_transcript(), write_size=7))
    events = stream_events(ask(proxy))
    assert reasoning_of(events) == REASONING
    assert text_of(events) == TEXT
    assert tool_calls_of(events) == [(call_id, name, "".join(deltas)) for _, call_id, name, deltas in CALLS]
    (value,) = [e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]
    reasoning_id = next(e["messageId"] for e in events if e["type"] == "REASONING_START")
    assert (value["entityId"], value["encryptedValue"], value["subtype"]) == (reasoning_id, ENCRYPTED, "message")
    kinds = types(events)
    assert kinds.index("REASONING_END") < kinds.index("TEXT_MESSAGE_START")
    assert kinds.index("TEXT_MESSAGE_END") < kinds.index("TOOL_CALL_START")
    assert events[-1]["usage"] == EXPECTED_USAGE
    assert events[-1]["result"] == {"stopReason": "tool_use", "providerStopReason": "completed"}


def test_reasoning_auto_shows_reasoning_to_agui_clients_only(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """``routes[].reasoning`` is ``auto`` by default: the BranderUX event table lists no REASONING_*
    event and its docs do not say unknown events are ignored, so a BranderUX body gets none; an
    AG-UI client gets them (with the encrypted value it sends back next turn)."""
    up.script(responses_reply(full_transcript()))
    branderux = stream_events(ask(proxy, "/api/responses-auto"))
    assert not [e for e in branderux if e["type"].startswith("REASONING")]
    assert text_of(branderux) == TEXT
    assert tool_calls_of(branderux) == [(call_id, name, "".join(deltas)) for _, call_id, name, deltas in CALLS]
    up.script(responses_reply(full_transcript()))
    reply = post(proxy.url + "/api/responses-auto", {
        "threadId": "t1", "runId": "r1", "messages": [{"id": "u1", "role": "user", "content": "Weather?"}]})
    agui, done = reply.frames
    assert reply.status == 200 and not done  # no [DONE] for an AG-UI client
    assert_valid_run(agui)
    assert reasoning_of(agui) == REASONING
    assert [e["encryptedValue"] for e in agui if e["type"] == "REASONING_ENCRYPTED_VALUE"] == [ENCRYPTED]
    assert [e["type"] for e in agui if e["type"] != "REASONING_ENCRYPTED_VALUE" and
            not e["type"].startswith("REASONING")] == types(branderux)


def test_request_sent_upstream(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(responses_reply(numbered([*started(), *message_item(0, TEXT_PIECES), completed()])))
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_W3ath3r", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_W3ath3r", "content": "12 °C"}]},
    ]
    tool = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                             "parameters": {"type": "object",
                                                            "properties": {"city": {"type": "string"}}}}}
    stream_events(post(proxy.url + "/api/responses", {"params": {
        "system": "You are a weather assistant.", "messages": history, "tools": {"openai": [tool]},
        "tool_choice": {"type": "auto"}, "max_tokens": 512}}, headers={"cookie": "session=abc"}))
    (request,) = up.requests
    assert (request.method, request.target) == ("POST", "/v1/responses")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert "cookie" not in request.headers and "api-key" not in request.headers
    assert request.json() == {
        "model": MODEL,
        "instructions": "You are a weather assistant.",
        "input": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "Checking."},
            {"type": "function_call", "call_id": "call_W3ath3r", "name": "get_weather",
             "arguments": '{"city": "Paris"}'},
            {"type": "function_call_output", "call_id": "call_W3ath3r", "output": "12 °C"},
        ],
        "tools": [{"type": "function", **tool["function"]}],
        "tool_choice": "auto",
        "max_output_tokens": 512,
        "stream": True,
        **EXTRAS,
    }


def test_data_only_stream_with_comments_and_a_trailing_done(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """OpenRouter's Responses endpoint: no ``event:`` lines, ``:`` comments, ``data: [DONE]`` at the end."""
    body = (b": OPENROUTER PROCESSING\n\n" + wire(numbered([*started(), *message_item(0, ["4"])]), event_lines=False)
            + b": OPENROUTER PROCESSING\n\n" + wire([completed()], event_lines=False) + b"data: [DONE]\n\n")
    up.script(Status(200, SSE_HEADERS), Chunk(body), End())
    events = stream_events(ask(proxy))
    assert types(events) == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
                             "RUN_FINISHED"]
    assert text_of(events) == "4"


def test_incomplete_at_max_output_tokens(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    incomplete = {"type": "response.incomplete", "response": response(
        "incomplete", usage=USAGE, incomplete_details={"reason": "max_output_tokens"})}
    up.script(responses_reply(numbered([*started(), *message_item(0, TEXT_PIECES[:2])[:-1], incomplete])))
    events = stream_events(ask(proxy))
    assert text_of(events) == "".join(TEXT_PIECES[:2])
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["result"] == {"stopReason": "max_tokens", "providerStopReason": "max_output_tokens"}
    assert events[-1]["usage"] == EXPECTED_USAGE


# -- failures --------------------------------------------------------------------------------------


def test_http_429(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(429, {"error": {"message": "Rate limit reached for gpt-5 on tokens per min (TPM)",
                                            "type": "tokens", "param": None, "code": "rate_limit_exceeded"}}))
    events = run_error(ask(proxy), "upstream_rate_limited", "429", "Rate limit reached for gpt-5")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


def test_http_400_names_the_problem(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    message = "Invalid value for 'max_output_tokens': integer below minimum value. Expected >= 16, got 8."
    up.script(body_response(400, {"error": {"message": message, "type": "invalid_request_error",
                                            "param": "max_output_tokens", "code": "integer_below_min_value"}}))
    run_error(ask(proxy, max_tokens=8), "upstream_rejected", "400", message)
    assert up.requests[0].json()["max_output_tokens"] == 8


def test_http_401_echoing_the_key(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(401, {"error": {"message": f"Incorrect API key provided: {KEY[:12]}****cdef.",
                                            "type": "invalid_request_error", "code": "invalid_api_key"}}))
    reply = ask(proxy)
    run_error(reply, "upstream_auth_failed", "401", "Incorrect API key provided")
    assert_no_secret(reply.body, KEY)


def test_in_band_error_then_response_failed(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """error-insufficient-quota-response-failed.sse after some text: one RUN_ERROR, text closed first."""
    message = "You exceeded your current quota, please check your plan and billing details."
    error = {"type": "error", "error": {"type": "insufficient_quota", "code": "insufficient_quota",
                                        "message": message, "param": None}}
    failed = {"type": "response.failed", "response": response(
        "failed", error={"code": "insufficient_quota", "message": message})}
    up.script(responses_reply(numbered([*started(), *message_item(0, TEXT_PIECES[:1])[:-1], error, failed])))
    events = run_error(ask(proxy), "upstream_error", message, "insufficient_quota")
    assert types(events)[-2:] == ["TEXT_MESSAGE_END", "RUN_ERROR"]
    assert text_of(events) == TEXT_PIECES[0]


def test_response_failed_alone(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    failed = {"type": "response.failed", "response": response(
        "failed", error={"code": "server_error", "message": "The server had an error processing your request."})}
    up.script(responses_reply(numbered([*started(), failed])))
    events = run_error(ask(proxy), "upstream_error", "The server had an error", "server_error")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


def test_stream_ends_without_a_terminal_event(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(responses_reply(numbered([*started(), *message_item(0, TEXT_PIECES)])))
    events = run_error(ask(proxy), "upstream_truncated", "response.completed")
    assert text_of(events) == TEXT


# -- Azure-style deployments -----------------------------------------------------------------------


def test_azure_chat_deployment(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    events = stream_events(ask(proxy, "/api/azure"))
    assert events[-1]["type"] == "RUN_FINISHED"
    (request,) = up.requests
    assert (request.method, request.target) == (
        "POST", f"/openai/deployments/gpt-4o-prod/chat/completions?api-version={AZURE_VERSION}")
    assert request.headers["api-key"] == AZURE_KEY
    assert "authorization" not in request.headers
    assert request.json()["model"] == "gpt-4o"


def test_azure_responses_v1(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(responses_reply(numbered([*started(), *message_item(0, ["Hi"]), completed()])))
    events = stream_events(ask(proxy, "/api/azure-responses"))
    assert text_of(events) == "Hi"
    (request,) = up.requests
    assert (request.method, request.target) == ("POST", "/openai/v1/responses")
    assert request.headers["api-key"] == AZURE_KEY and "authorization" not in request.headers
    assert request.json()["model"] == "gpt-5-prod"


def test_azure_401_echoing_the_key_is_redacted(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    body = {"error": {"code": "401", "message": f"Access denied due to invalid subscription key {AZURE_KEY}. Make "
                                                "sure to provide a valid key for an active subscription."}}
    up.script(body_response(401, body))
    seen = proxy.output().count("upstream_auth_failed")
    reply = ask(proxy, "/api/azure")
    run_error(reply, "upstream_auth_failed", "Access denied due to invalid subscription key")
    wait_for_output(proxy, "upstream_auth_failed", seen)  # the log line of this run
    for piece in (AZURE_KEY[i:i + 8] for i in range(len(AZURE_KEY) - 7)):
        assert piece not in reply.body.decode() and piece not in proxy.output()
