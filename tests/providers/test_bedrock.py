"""Bedrock's Converse stream: the request built from a conversation, and the event stream
translated into a run (whole, byte by byte and split at every offset)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agui_proxy.errors import InboundError
from tests.support import eventstream as es
from tests.support.agui_check import reasoning_of, text_of, tool_calls_of, types
from tests.support.harness import assert_split_invariant, built_request, provider, run_events

MODEL = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


def bedrock() -> Any:
    return provider("bedrock", model=MODEL, region="eu-central-1",
                    base_url="https://bedrock-runtime.eu-central-1.amazonaws.com")


def build(client_body: dict[str, Any], **settings: Any) -> tuple[dict[str, Any], dict[str, str], str]:
    settings.setdefault("model", MODEL)
    settings.setdefault("region", "eu-central-1")
    settings.setdefault("base_url", "https://bedrock-runtime.eu-central-1.amazonaws.com")
    request = built_request("bedrock", client_body, **settings)
    return json.loads(request.body), request.headers, request.url


# -- the request ------------------------------------------------------------------------------


def test_path_names_the_model_as_one_encoded_segment() -> None:
    _, headers, url = build({"params": {"messages": [{"role": "user", "content": "Hi"}]}})
    assert url == ("https://bedrock-runtime.eu-central-1.amazonaws.com/model/"
                   "eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream")
    assert headers["accept"] == "application/vnd.amazon.eventstream"
    assert "authorization" not in headers  # IAM: the shell signs it on its way out
    arn = "arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude"
    _, _, url = build({"params": {"messages": [{"role": "user", "content": "Hi"}]}}, model=arn)
    assert url.endswith("/model/arn%3Aaws%3Abedrock%3Aeu-central-1%3A123456789012%3Ainference-profile"
                        "%2Feu.anthropic.claude/converse-stream")


def test_an_api_key_is_a_bearer_header() -> None:
    _, headers, _ = build({"params": {"messages": [{"role": "user", "content": "Hi"}]}}, api_key="bedrock-key-123456")
    assert headers["authorization"] == "Bearer bedrock-key-123456"


def test_system_tools_choice_and_inference_config() -> None:
    body, _, _ = build({"params": {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}],
        "tools": {"openai": [{"type": "function", "function": {
            "name": "weather", "description": "Weather at a place",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]},
        "tool_choice": "required", "max_tokens": 321}},
        extra_body={"inferenceConfig": {"temperature": 0.2},
                    "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}})
    assert body == {
        "messages": [{"role": "user", "content": [{"text": "Weather?"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 321, "temperature": 0.2},
        "toolConfig": {"tools": [{"toolSpec": {"name": "weather", "description": "Weather at a place", "inputSchema": {
            "json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}], "toolChoice": {"any": {}}},
        "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    }


@pytest.mark.parametrize(("choice", "wire"), [("auto", {"auto": {}}), ("none", None),
                                               ({"type": "function", "function": {"name": "f"}},
                                                {"tool": {"name": "f"}})])
def test_tool_choices(choice: Any, wire: Any) -> None:
    body, _, _ = build({"params": {"messages": [{"role": "user", "content": "x"}], "tool_choice": choice,
                                   "tools": {"openai": [{"type": "function", "function": {"name": "f"}}]}}})
    assert body["toolConfig"].get("toolChoice") == wire


def test_images_and_documents_inline() -> None:
    agui = {"threadId": "t", "runId": "r", "state": {}, "tools": [], "context": [], "forwardedProps": {},
            "messages": [{"id": "u1", "role": "user", "content": [
                {"type": "text", "text": "Look"},
                {"type": "binary", "mimeType": "image/png", "data": "iVBORw0KGgo="},
                {"type": "binary", "mimeType": "application/pdf", "data": "JVBERi0=", "filename": "Q3 report.v2.pdf"},
            ]}]}
    body, _, _ = build(agui)
    assert body["messages"][0]["content"] == [
        {"text": "Look"},
        {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
        {"document": {"format": "pdf", "name": "Q3 report v2", "source": {"bytes": "JVBERi0="}}},
    ]


def test_an_image_by_url_is_refused_with_a_reason() -> None:
    with pytest.raises(InboundError, match="inline") as caught:
        build({"params": {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}})
    assert caught.value.status == 422


def call(call_id: str, city: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "weather", "arguments": json.dumps({"city": city})}}


def test_a_tool_loop_goes_back_with_its_reasoning_and_results() -> None:
    """The second request of a tool loop: the assistant turn with its signed reasoning, redacted
    reasoning and both parallel calls, then one user turn with both results (one an error)."""
    agui = {"threadId": "t", "runId": "r2", "state": {}, "context": [], "forwardedProps": {},
            "tools": [{"name": "weather", "description": "w", "parameters": {"type": "object", "properties": {}}}],
            "messages": [
                {"id": "u1", "role": "user", "content": "Weather in Paris and Rome?"},
                {"id": "rs1", "role": "reasoning", "content": "Two cities.", "encryptedValue": "sig-abc"},
                {"id": "rs2", "role": "reasoning", "content": "", "encryptedValue": "cmVkYWN0ZWQ="},
                {"id": "a1", "role": "assistant", "toolCalls": [call("tooluse_1", "Paris"), call("tooluse_2", "Rome")]},
                {"id": "t1", "role": "tool", "toolCallId": "tooluse_1", "content": "18C"},
                {"id": "t2", "role": "tool", "toolCallId": "tooluse_2", "content": "boom", "error": "failed"},
            ]}
    body, _, _ = build(agui)
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
        {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Two cities.", "signature": "sig-abc"}}},
            {"reasoningContent": {"redactedContent": "cmVkYWN0ZWQ="}},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "weather", "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "tooluse_2", "name": "weather", "input": {"city": "Rome"}}}]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}]}},
            {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "boom\nError: failed"}],
                            "status": "error"}}]},
    ]
    assert body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "weather"


# -- the stream -------------------------------------------------------------------------------


def test_text_and_usage_with_cache_counts_inside_the_input() -> None:
    data = es.converse(es.start(), *es.text_block(0, "Hel", "lo"),
                       *es.stop("end_turn", inputTokens=10, outputTokens=5, cacheReadInputTokens=100,
                                cacheWriteInputTokens=20, totalTokens=135))
    events = run_events(bedrock(), data)
    assert text_of(events) == "Hello"
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["result"] == {"stopReason": "end_turn", "providerStopReason": "end_turn"}
    assert events[-1]["usage"] == [{"provider": "bedrock", "model": MODEL, "inputTokens": 130, "outputTokens": 5,
                                    "totalTokens": 135, "cachedInputTokens": 100, "cacheWriteInputTokens": 20}]
    assert_split_invariant(bedrock(), data)


def test_parallel_tool_calls() -> None:
    data = es.converse(es.start(), *es.text_block(0, "Checking."),
                       *es.tool_block(1, "tooluse_1", "weather", '{"city":', '"Paris"}'),
                       *es.tool_block(2, "tooluse_2", "weather", "", '{"city":"Rome"}'), *es.stop("tool_use"))
    events = run_events(bedrock(), data)
    assert tool_calls_of(events) == [("tooluse_1", "weather", '{"city":"Paris"}'),
                                     ("tooluse_2", "weather", '{"city":"Rome"}')]
    assert events[-1]["result"]["stopReason"] == "tool_use"
    assert_split_invariant(bedrock(), data)


def test_a_tool_without_input_gets_an_empty_object() -> None:
    events = run_events(bedrock(), es.converse(es.start(), *es.tool_block(0, "t1", "now"), *es.stop("tool_use")))
    assert tool_calls_of(events) == [("t1", "now", "{}")]


def test_reasoning_with_its_signature_and_redacted_reasoning() -> None:
    data = es.converse(es.start(), *es.reasoning_block(0, "Let me ", "think.", signature="sig-abc"),
                       *es.reasoning_block(1, redacted="cmVkYWN0ZWQ="), *es.text_block(2, "Done."), *es.stop())
    events = run_events(bedrock(), data)
    assert reasoning_of(events) == "Let me think."
    assert [e["encryptedValue"] for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"] == [
        "sig-abc", "cmVkYWN0ZWQ="]
    assert text_of(events) == "Done."
    assert types(events).index("REASONING_END") < types(events).index("TEXT_MESSAGE_START")
    assert_split_invariant(bedrock(), data)


@pytest.mark.parametrize(("exception", "code"), [
    ("throttlingException", "upstream_rate_limited"),
    ("validationException", "upstream_rejected"),
    ("serviceUnavailableException", "upstream_unavailable"),
    ("internalServerException", "upstream_unavailable"),
    ("modelStreamErrorException", "upstream_error"),
    ("someFutureException", "upstream_error"),
])
def test_in_stream_exceptions_end_the_run_with_their_code(exception: str, code: str) -> None:
    data = es.converse(es.start(), *es.text_block(0, "Par")) + es.exception(exception, "it went wrong")
    events = run_events(bedrock(), data)
    assert text_of(events) == "Par"
    assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == code
    assert exception in events[-1]["message"] and "it went wrong" in events[-1]["message"]


def test_an_unmodelled_error_message() -> None:
    data = es.converse(es.start()) + es.message([(":message-type", 7, "error"), (":error-code", 7, "InternalFailure"),
                                                 (":error-message", 7, "an internal failure")], b"")
    events = run_events(bedrock(), data)
    assert events[-1]["code"] == "upstream_error" and "InternalFailure" in events[-1]["message"]


@pytest.mark.parametrize("reason", ["guardrail_intervened", "content_filtered"])
def test_a_guardrail_is_a_content_filter(reason: str) -> None:
    events = run_events(bedrock(), es.converse(es.start(), *es.text_block(0, "I"), *es.stop(reason)))
    assert events[-1]["code"] == "content_filtered"


def test_the_end_of_the_body_before_message_stop_is_truncation() -> None:
    data = es.converse(es.start(), *es.text_block(0, "Hel"))
    for body in (data, data + es.event("messageStop", {"stopReason": "end_turn"})[:-3]):
        events = run_events(bedrock(), body)
        assert events[-1]["code"] == "upstream_truncated"


def test_message_stop_without_its_metadata_still_finishes() -> None:
    events = run_events(bedrock(), es.converse(es.start(), *es.text_block(0, "Hi"),
                                               ("messageStop", {"stopReason": "max_tokens"})))
    assert events[-1]["type"] == "RUN_FINISHED" and "usage" not in events[-1]
    assert events[-1]["result"]["stopReason"] == "max_tokens"


def test_a_corrupt_stream_is_a_protocol_error() -> None:
    data = bytearray(es.converse(es.start(), *es.text_block(0, "Hi"), *es.stop()))
    data[-1] ^= 1
    events = run_events(bedrock(), bytes(data))
    assert events[-1]["code"] == "upstream_protocol_error" and "CRC" in events[-1]["message"]
