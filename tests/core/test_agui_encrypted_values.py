"""``encryptedValue`` in an AG-UI ``RunAgentInput``: every message kind of ag-ui-protocol 1.0.0 that
carries one, read into the neutral conversation the provider request builders write from.

The values are the ones the proxy emitted as ``REASONING_ENCRYPTED_VALUE`` and ``@ag-ui/client``
stored: subtype ``tool-call`` on ``toolCalls[].encryptedValue``, subtype ``message`` on the
reasoning message (``messages[].encryptedValue``).  The BranderUX shapes of the same values read
into the same fields (the last tests), so the builders see one thing from either body kind.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from ag_ui.core import (
    AssistantMessage,
    DeveloperMessage,
    FunctionCall,
    ReasoningMessage,
    RunAgentInput,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)

from agui_proxy.core.conversation import Message, ReasoningPart
from agui_proxy.core.conversation import ToolCall as NeutralCall
from agui_proxy.core.inbound import read_request
from agui_proxy.errors import InboundError

ARGS = '{"city":"Paris"}'
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ARGS}}


def turns(messages: list[dict[str, Any]]) -> list[Message]:
    body = {"threadId": "t", "runId": "r", "messages": messages}
    return read_request(json.dumps(body).encode()).conversation.messages


def test_every_message_kind_with_an_encrypted_value_is_in_the_1_0_models() -> None:
    """The kinds this file covers are exactly those whose 1.0.0 model has the field."""
    kinds = {m for m in (AssistantMessage, UserMessage, SystemMessage, DeveloperMessage, ToolMessage,
                         ReasoningMessage, ToolCall) if "encrypted_value" in m.model_fields}
    assert kinds == {AssistantMessage, UserMessage, SystemMessage, DeveloperMessage, ToolMessage,
                     ReasoningMessage, ToolCall}
    from ag_ui.core import ActivityMessage
    assert "encrypted_value" not in ActivityMessage.model_fields


def test_a_tool_calls_encrypted_value_is_its_signature() -> None:
    messages = turns([
        {"id": "u", "role": "user", "content": "Weather?"},
        {"id": "a", "role": "assistant", "toolCalls": [{**CALL, "encryptedValue": "sig-gemini-1"},
                                                       {**CALL, "id": "call_2"}]},
    ])
    assert messages[1].tool_calls == [NeutralCall("call_1", "get_weather", ARGS, "sig-gemini-1"),
                                      NeutralCall("call_2", "get_weather", ARGS, None)]


def test_a_reasoning_message_with_a_value_goes_to_the_next_assistant_turn_in_order() -> None:
    messages = turns([
        {"id": "u", "role": "user", "content": "Weather?"},
        {"id": "rs_0a1", "role": "reasoning", "content": "Need the tool.", "encryptedValue": "sig-A"},
        {"id": "rsn_2", "role": "reasoning", "content": "", "encryptedValue": "redacted-B"},
        {"id": "rsn_3", "role": "reasoning", "content": "plain thinking, no value"},
        {"id": "a", "role": "assistant", "toolCalls": [CALL]},
        {"id": "t", "role": "tool", "toolCallId": "call_1", "content": "12 °C"},
        {"id": "a2", "role": "assistant", "content": "12 °C in Paris."},
    ])
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1].reasoning == [ReasoningPart(text="Need the tool.", signature="sig-A", id="rs_0a1"),
                                     ReasoningPart(redacted_data="redacted-B", id="rsn_2")]
    assert messages[1].reasoning[1].opaque == "redacted-B"
    assert messages[3].reasoning == []  # each turn its own reasoning


def test_reasoning_between_a_text_turn_and_the_next_goes_with_the_later_one() -> None:
    """Anthropic's adaptive thinking streams text, thinking, text: the client keeps
    assistant, reasoning, assistant, and the thinking belongs before the second text."""
    messages = turns([
        {"id": "u", "role": "user", "content": "Hi"},
        {"id": "a1", "role": "assistant", "content": "\n\n"},
        {"id": "r", "role": "reasoning", "content": "Think.", "encryptedValue": "sig"},
        {"id": "a2", "role": "assistant", "content": "Hello.", "toolCalls": [CALL]},
    ])
    assert [m.reasoning for m in messages[1:]] == [[], [ReasoningPart("Think.", "sig", id="r")]]


def test_reasoning_that_no_assistant_turn_follows_is_dropped() -> None:
    messages = turns([
        {"id": "u", "role": "user", "content": "Hi"},
        {"id": "r", "role": "reasoning", "content": "Thinking, then cut off.", "encryptedValue": "sig"},
        {"id": "u2", "role": "user", "content": "Hello?"},
        {"id": "a", "role": "assistant", "content": "Yes."},
    ])
    assert [(m.role, m.reasoning) for m in messages] == [("user", []), ("user", []), ("assistant", [])]


def test_a_system_message_between_reasoning_and_its_turn_does_not_orphan_it() -> None:
    messages = turns([
        {"id": "u", "role": "user", "content": "Hi"},
        {"id": "r", "role": "reasoning", "content": "Think.", "encryptedValue": "sig"},
        {"id": "s", "role": "system", "content": "Be brief."},
        {"id": "a", "role": "assistant", "content": "Hi."},
    ])
    assert messages[-1].reasoning == [ReasoningPart("Think.", "sig", id="r")]


def test_an_assistant_messages_own_value_is_a_value_of_that_turn() -> None:
    messages = turns([
        {"id": "u", "role": "user", "content": "Hi"},
        {"id": "a", "role": "assistant", "content": "Hello.", "encryptedValue": "turn-value"},
    ])
    assert messages[1].reasoning == [ReasoningPart(redacted_data="turn-value")]


@pytest.mark.parametrize("role", ["user", "system", "developer", "tool"])
def test_values_on_turns_no_provider_takes_them_on_are_accepted_and_not_sent(role: str) -> None:
    message: dict[str, Any] = {"id": "m", "role": role, "content": "text", "encryptedValue": "opaque"}
    if role == "tool":
        message["toolCallId"] = "call_1"
    history = [{"id": "a", "role": "assistant", "toolCalls": [CALL]}] if role == "tool" else []
    messages = turns([*history, message, {"id": "u", "role": "user", "content": "next"}])
    assert all(not m.reasoning for m in messages)
    assert "opaque" not in repr(messages)


def test_an_input_built_with_the_official_models_keeps_every_value() -> None:
    run = RunAgentInput(thread_id="t", run_id="r", state=None, tools=[], context=[], forwarded_props=None, messages=[
        UserMessage(id="u", content="Weather?"),
        ReasoningMessage(id="rs_1", content="Call the tool.", encrypted_value="enc-1"),
        AssistantMessage(id="a", tool_calls=[ToolCall(id="call_1", function=FunctionCall(
            name="get_weather", arguments=ARGS), encrypted_value="sig-1")]),
        ToolMessage(id="t", tool_call_id="call_1", content="12 °C"),
    ])
    body = run.model_dump_json(by_alias=True, exclude_none=True).encode()
    assert b'"encryptedValue":"enc-1"' in body
    messages = read_request(body).conversation.messages
    assert messages[1].reasoning == [ReasoningPart("Call the tool.", "enc-1", id="rs_1")]
    assert messages[1].tool_calls[0].signature == "sig-1"


@pytest.mark.parametrize("bad", [{"encryptedValue": 5}, {"encryptedValue": ["x"]}])
def test_an_encrypted_value_that_is_not_a_string_is_a_422(bad: dict[str, Any]) -> None:
    body = {"threadId": "t", "runId": "r", "messages": [
        {"id": "a", "role": "assistant", "toolCalls": [{**CALL, **bad}]}]}
    with pytest.raises(InboundError) as info:
        read_request(json.dumps(body).encode())
    assert info.value.status == 422 and "encryptedValue" in info.value.message


# -- the same values in a BranderUX body ------------------------------------------------------------


def branderux(assistant: dict[str, Any]) -> list[Message]:
    body = {"params": {"messages": [{"role": "user", "content": "Weather?"}, assistant]}}
    return read_request(json.dumps(body).encode()).conversation.messages


def test_branderux_blocks_read_into_the_same_fields() -> None:
    anthropic = branderux({"role": "assistant", "content": [
        {"type": "thinking", "thinking": "Need the tool.", "signature": "sig-A"},
        {"type": "redacted_thinking", "data": "redacted-B"},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]})
    assert anthropic[1].reasoning == [ReasoningPart("Need the tool.", "sig-A"),
                                      ReasoningPart(redacted_data="redacted-B")]
    responses = branderux({"role": "assistant", "content": [
        {"type": "reasoning", "id": "rs_1", "encrypted_content": "enc-1",
         "summary": [{"type": "summary_text", "text": "**Plan**"}, {"type": "summary_text", "text": "Call it."}]},
        {"type": "text", "text": "Checking."}]})
    assert responses[1].reasoning == [ReasoningPart("**Plan**\n\nCall it.", "enc-1", id="rs_1")]
    openrouter = branderux({"role": "assistant", "content": None, "tool_calls": [{**CALL, "encryptedValue": "g"}],
                            "reasoning_details": [
                                {"type": "reasoning.text", "text": "Think.", "signature": "sig-T", "format": "x"},
                                {"type": "reasoning.encrypted", "data": "enc-E", "id": "r1"},
                                {"type": "reasoning.summary", "summary": "A summary."}]})
    assert openrouter[1].reasoning == [ReasoningPart("Think.", "sig-T"), ReasoningPart(redacted_data="enc-E", id="r1"),
                                       ReasoningPart("A summary.")]
    assert openrouter[1].tool_calls[0].signature == "g"


@pytest.mark.parametrize(("assistant", "where"), [
    ({"role": "assistant", "content": "x", "reasoning_details": "no"}, "reasoning_details"),
    ({"role": "assistant", "content": "x", "reasoning_details": [{"type": "reasoning.magic"}]},
     "reasoning_details[0].type"),
    ({"role": "assistant", "content": [{"type": "reasoning", "encrypted_content": 3}]}, "content[0]"),
])
def test_bad_branderux_reasoning_is_a_422_naming_the_field(assistant: dict[str, Any], where: str) -> None:
    with pytest.raises(InboundError) as info:
        branderux(assistant)
    assert info.value.status == 422 and f"params.messages[1].{where}" in info.value.message
