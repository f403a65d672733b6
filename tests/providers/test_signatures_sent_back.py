"""Every provider's request puts the signed reasoning of earlier turns where that provider documents it
(FORMATS.md; docs/providers.md, the "multi-turn with reasoning" row).

One neutral history, read from an AG-UI body whose values are the ones the proxy emitted, is
written by each builder; the BranderUX shapes of the same values give the same request.
"""

from __future__ import annotations

import json
from typing import Any

from agui_proxy.core.inbound import read_request

from ..support.harness import provider

ARGS = '{"city":"Paris"}'


def agui_history(*, reasoning: list[dict[str, Any]], call_signature: str | None = None) -> bytes:
    call: dict[str, Any] = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ARGS}}
    if call_signature:
        call["encryptedValue"] = call_signature
    return json.dumps({"threadId": "t", "runId": "r", "messages": [
        {"id": "u1", "role": "user", "content": "Weather in Paris?"},
        *reasoning,
        {"id": "a1", "role": "assistant", "content": "Checking.", "toolCalls": [call]},
        {"id": "t1", "role": "tool", "toolCallId": "call_1", "content": "12 °C"},
    ]}).encode()


def sent(name: str, body: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(provider(name).build_request(read_request(body).conversation).body)
    return result


def reasoning(message_id: str, text: str, value: str) -> dict[str, Any]:
    return {"id": message_id, "role": "reasoning", "content": text, "encryptedValue": value}


def test_anthropic_thinking_and_redacted_thinking_come_before_the_tool_use() -> None:
    body = agui_history(reasoning=[reasoning("rsn_1", "Need the tool.", "SIG-1"), reasoning("rsn_2", "", "REDACTED")])
    assistant = sent("anthropic", body)["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"] == [
        {"type": "thinking", "thinking": "Need the tool.", "signature": "SIG-1"},
        {"type": "redacted_thinking", "data": "REDACTED"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    branderux = json.dumps({"params": {"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Need the tool.", "signature": "SIG-1"},
            {"type": "redacted_thinking", "data": "REDACTED"}, {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "12 °C"}]},
    ]}}).encode()
    assert sent("anthropic", branderux)["messages"] == sent("anthropic", body)["messages"]


def test_gemini_signatures_stay_on_their_call_and_text_parts() -> None:
    body = agui_history(reasoning=[reasoning("rsn_1", "Thinking about the weather.", "TEXT-SIG")],
                        call_signature="CALL-SIG")
    model_turn = sent("gemini", body)["contents"][1]
    assert model_turn == {"role": "model", "parts": [
        {"text": "Checking.", "thoughtSignature": "TEXT-SIG"},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"},
         "thoughtSignature": "CALL-SIG"},
    ]}


def test_gemini_a_signature_with_no_text_part_left_is_an_empty_signed_part() -> None:
    body = json.dumps({"threadId": "t", "runId": "r", "messages": [
        {"id": "u1", "role": "user", "content": "Hi"},
        reasoning("rsn_1", "Hmm.", "SIG-END"),
        {"id": "a1", "role": "assistant", "toolCalls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}, "encryptedValue": "S1"}]},
    ]}).encode()
    parts = sent("gemini", body)["contents"][1]["parts"]
    assert parts == [{"functionCall": {"name": "f", "args": {}, "id": "c1"}, "thoughtSignature": "S1"},
                     {"text": "", "thoughtSignature": "SIG-END"}]


def test_responses_reasoning_items_with_encrypted_content_precede_the_function_call() -> None:
    body = agui_history(reasoning=[reasoning("rs_0abc", "**Plan**\n\nCall the tool.", "gAAAA-ENC"),
                                   reasoning("rsn_9", "", "gAAAA-NO-TEXT")])
    items = sent("openai-responses", body)["input"]
    assert items == [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "reasoning", "id": "rs_0abc",
         "summary": [{"type": "summary_text", "text": "**Plan**\n\nCall the tool."}], "encrypted_content": "gAAAA-ENC"},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAAA-NO-TEXT"},
        {"role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": ARGS},
        {"type": "function_call_output", "call_id": "call_1", "output": "12 °C"},
    ]


def test_chat_completions_reasoning_details_on_the_assistant_message() -> None:
    body = agui_history(reasoning=[reasoning("rsn_1", "Think.", "SIG-T"), reasoning("rsn_2", "", "ENC-DATA"),
                                   {"id": "rsn_3", "role": "reasoning", "content": "unsigned, not sent"}])
    assistant = sent("openai-chat", body)["messages"][1]
    assert assistant["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Think.", "signature": "SIG-T", "index": 0},
        {"type": "reasoning.encrypted", "data": "ENC-DATA", "index": 1},
    ]
    assert assistant["tool_calls"][0]["id"] == "call_1"


def test_without_signed_reasoning_no_provider_gets_reasoning_fields() -> None:
    body = agui_history(reasoning=[{"id": "rsn_1", "role": "reasoning", "content": "plain"}])
    assert "reasoning_details" not in sent("openai-chat", body)["messages"][1]
    assert all(item.get("type") != "reasoning" for item in sent("openai-responses", body)["input"])
    assert [b["type"] for b in sent("anthropic", body)["messages"][1]["content"]] == ["text", "tool_use"]
    assert all("thoughtSignature" not in p for p in sent("gemini", body)["contents"][1]["parts"])
