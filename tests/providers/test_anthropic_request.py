"""The Anthropic Messages request built from a conversation, against the recorded real ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agui_proxy.core.inbound import read_request
from agui_proxy.errors import InboundError

from ..support.agui_check import reasoning_of, tool_calls_of
from ..support.harness import built_request, provider, run_events
from ..support.recordings import recorded_file, recorded_request

KEY = "sk-ant-test-0123456789abcdef"


def build(params: dict[str, Any], **settings: Any) -> tuple[dict[str, Any], dict[str, str], str]:
    settings.setdefault("model", "claude-haiku-4-5-20251001")
    settings.setdefault("base_url", "https://api.anthropic.com/v1")
    request = built_request("anthropic", {"params": params}, api_key=KEY, **settings)
    assert KEY not in request.url and KEY not in json.dumps(request.params)
    return json.loads(request.body), request.headers, request.url


def test_tool_round_trip_matches_the_recorded_request() -> None:
    """A history with a tool call and its result, sent as Anthropic blocks, comes out as the
    real request that produced text-after-tool-result.sse, field for field."""
    record = recorded_request("anthropic/text-after-tool-result.request.json")
    want = record["body"]
    body, headers, url = build({"messages": want["messages"], "tools": {"anthropic": want["tools"]},
                                "max_tokens": want["max_tokens"]}, extra_body={"temperature": 1.0})
    assert url == record["uri"]
    assert body == want
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == record["recorded_headers"]["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"


def test_openai_shaped_history_becomes_the_same_request() -> None:
    """The same conversation as OpenAI-style tool_calls + a tool message (ids kept), with the
    tools given for OpenAI only (converted), reaches Anthropic in Anthropic's own format."""
    want = recorded_request("anthropic/text-after-tool-result.request.json")["body"]
    call_id = want["messages"][1]["content"][0]["id"]
    tool = want["tools"][0]
    body, _, _ = build({
        "messages": [
            {"role": "user", "content": want["messages"][0]["content"][0]["text"]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "fixed_version", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": call_id, "content": "0.32a0"},
        ],
        "tools": {"openai": [{"type": "function", "function": {
            "name": tool["name"], "description": tool["description"], "parameters": tool["input_schema"]}}]},
        "max_tokens": want["max_tokens"],
    }, extra_body={"temperature": 1.0})
    assert body == want


def test_thinking_comes_back_signed_before_the_tool_call() -> None:
    """Round trip: the events of thinking-then-tool-use.sse, sent back by a client as Anthropic
    blocks with a tool result, give a request whose assistant turn starts with the same thinking
    and signature (the API refuses a tool turn whose thinking is missing or altered)."""
    stream = recorded_file("anthropic/thinking-then-tool-use.sse")
    events = run_events(provider("anthropic"), stream.read_bytes())
    [signature] = [e["encryptedValue"] for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]
    [(call_id, name, args)] = tool_calls_of(events)
    assistant = [{"type": "thinking", "thinking": reasoning_of(events), "signature": signature},
                 {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
                 {"type": "tool_use", "id": call_id, "name": name, "input": json.loads(args)}]
    body, _, _ = build({"messages": [
        {"role": "user", "content": "Use the fixed_version tool."},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "0.32a0"},
                                     {"type": "text", "text": "And now?"}]},
    ]}, extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert body["messages"][1] == {"role": "assistant", "content": assistant}
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": call_id, "content": "0.32a0"}, {"type": "text", "text": "And now?"}]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_unsigned_thinking_is_not_sent() -> None:
    body, _, _ = build({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "Hello"}]},
    ]})
    assert body["messages"][1]["content"] == [{"type": "text", "text": "Hello"}]


def test_system_tools_choice_turn_merging_images_and_errors() -> None:
    body, headers, url = build(
        {"system": "Be brief.", "max_tokens": 50,
         "messages": [
             {"role": "system", "content": "Answer in French."},
             {"role": "user", "content": "Look:"},
             {"role": "user", "content": [
                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                 {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}}]},
             {"role": "assistant", "content": "Calling both.", "tool_calls": [
                 {"id": "call_a", "type": "function", "function": {"name": "show", "arguments": "{\"x\": 1}"}},
                 {"id": "call_b", "type": "function", "function": {"name": "show", "arguments": "{\"x\": "}}]},
             {"role": "tool", "tool_call_id": "call_a", "content": "done"},
             {"role": "tool", "tool_call_id": "call_b", "content": "bad input"},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_c", "content": "x",
                                           "is_error": True}]},
         ],
         "tools": {"gemini": [{"name": "show", "description": "Show it",
                               "parameters": {"type": "OBJECT", "properties": {"x": {"type": "INTEGER"}}}}]},
         "tool_choice": {"type": "function", "function": {"name": "show"}}},
        headers={"anthropic-beta": "interleaved-thinking-2025-05-14", "Anthropic-Version": "2024-01-01"},
        base_url="https://gateway.test/anthropic/v1/",
    )
    assert url == "https://gateway.test/anthropic/v1/messages"
    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert body["max_tokens"] == 50 and body["stream"] is True
    assert body["tools"] == [{"name": "show", "description": "Show it",
                              "input_schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}]
    assert body["tool_choice"] == {"type": "tool", "name": "show"}
    assert body["messages"] == [
        {"role": "user", "content": [  # two user turns merged: Anthropic wants alternation
            {"type": "text", "text": "Look:"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Calling both."},
            {"type": "tool_use", "id": "call_a", "name": "show", "input": {"x": 1}},
            # arguments cut off mid-JSON: kept for the model to see, as the object input must be
            {"type": "tool_use", "id": "call_b", "name": "show", "input": {"invalid_arguments": "{\"x\": "}}]},
        {"role": "user", "content": [  # the parallel results in one turn
            {"type": "tool_result", "tool_use_id": "call_a", "content": "done"},
            {"type": "tool_result", "tool_use_id": "call_b", "content": "bad input"},
            {"type": "tool_result", "tool_use_id": "call_c", "content": "x", "is_error": True}]},
    ]
    assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    # the configured version replaces the default rather than going beside it
    assert [k for k in headers if k.lower() == "anthropic-version"] == ["Anthropic-Version"]


@pytest.mark.parametrize(("choice", "wire"), [
    ({"type": "auto"}, {"type": "auto"}), ({"type": "any"}, {"type": "any"}), ("required", {"type": "any"}),
    ({"type": "none"}, {"type": "none"}), ({"type": "tool", "name": "t"}, {"type": "tool", "name": "t"}),
])
def test_tool_choice(choice: Any, wire: dict[str, Any]) -> None:
    body, _, _ = build({"messages": [{"role": "user", "content": "hi"}], "tool_choice": choice,
                        "tools": {"anthropic": [{"name": "t", "input_schema": {"type": "object"}}]}})
    assert body["tool_choice"] == wire


def test_no_tools_no_choice_no_system_and_no_key_header_without_a_key() -> None:
    conv = read_request(json.dumps({"params": {"messages": [{"role": "user", "content": "hi"}],
                                               "tool_choice": {"type": "any"}}}).encode()).conversation
    request = provider("anthropic").build_request(conv)
    body = json.loads(request.body)
    assert set(body) == {"model", "max_tokens", "stream", "messages"}
    assert body["max_tokens"] == 4000
    assert "x-api-key" not in request.headers


@pytest.mark.parametrize(("block", "field"), [
    ({"type": "redacted_thinking"}, "params.messages[1].content[0].data"),
    ({"type": "thinking", "thinking": "x", "signature": 5}, "params.messages[1].content[0]"),
])
def test_a_malformed_thinking_block_is_refused_naming_it(block: dict[str, Any], field: str) -> None:
    with pytest.raises(InboundError) as caught:
        read_request(json.dumps({"params": {"messages": [
            {"role": "user", "content": "hi"}, {"role": "assistant", "content": [block]}]}}).encode())
    assert caught.value.status == 422 and caught.value.message.startswith(f"{field}: ")
