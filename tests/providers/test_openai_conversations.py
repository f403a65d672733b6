"""Multi-turn conversations with tool calls and results, into each OpenAI format, ids kept.

The same history is given the two ways a BranderUX frontend may hold it (OpenAI-style
``tool_calls`` + ``tool`` messages, Anthropic-style ``tool_use`` + ``tool_result`` blocks) and must
reach Chat Completions as ``tool_calls`` + ``tool`` messages and the Responses API as
``function_call`` + ``function_call_output`` items.  The recorded requests beside the recordings
(real requests that the provider answered) are the reference, field by field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..support.harness import built_request
from ..support.recordings import recorded_request


def recorded_body(folder: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = recorded_request(f"{folder}/{name}.request.json")["body"]
    return body


def build(name: str, params: dict[str, Any], **settings: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(built_request(name, {"params": params}, api_key="sk-key", **settings).body)
    return body


def anthropic_history(question: str, call_id: str, name: str, arguments: str, result: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": [{"type": "tool_use", "id": call_id, "name": name,
                                           "input": json.loads(arguments)}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": result}]},
    ]


def openai_history(question: str, call_id: str, name: str, arguments: str, result: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": result},
    ]


HISTORIES = pytest.mark.parametrize("history", [openai_history, anthropic_history], ids=["openai-style",
                                                                                        "anthropic-style"])


def with_parsed_arguments(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items with every ``arguments`` JSON text parsed (the issue compares arguments as JSON)."""
    out = []
    for item in items:
        item = dict(item)
        if isinstance(item.get("arguments"), str):
            item["arguments"] = json.loads(item["arguments"])
        if isinstance(item.get("tool_calls"), list):
            item["tool_calls"] = [{**c, "function": {**c["function"], "arguments": json.loads(
                c["function"]["arguments"])}} for c in item["tool_calls"]]
        out.append(item)
    return out


# -- Responses ---------------------------------------------------------------------------------------


@HISTORIES
def test_responses_round_trip_matches_the_recorded_request(history: Any) -> None:
    recorded = recorded_body("openai-responses", "text-after-function-output-gpt55")
    user, call, output = recorded["input"]
    chat_tools = [{"type": "function", "function": {k: v for k, v in t.items() if k != "type"}}
                  for t in recorded["tools"]]
    extras = {k: recorded[k] for k in ("include", "reasoning", "store")}
    body = build("openai-responses", {
        "messages": history(user["content"], call["call_id"], call["name"], call["arguments"], output["output"]),
        "tools": {"openai": chat_tools},
    }, model=recorded["model"], extra_body=extras)
    assert with_parsed_arguments(body["input"]) == with_parsed_arguments(recorded["input"])
    for field in ("model", "stream", "tools", "include", "reasoning", "store"):
        assert body[field] == recorded[field], field
    assert set(body) - set(recorded) == {"max_output_tokens"} and body["max_output_tokens"] == 4000


@HISTORIES
def test_responses_round_trip_of_the_older_recording(history: Any) -> None:
    """pydantic-ai's request: the same round trip with ``tool_choice`` and an Anthropic-shaped tool list."""
    recorded = recorded_body("openai-responses", "text-basic")
    user, call, output = recorded["input"]
    tools = [{"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
             for t in recorded["tools"]]
    body = build("openai-responses", {
        "messages": history(user["content"], call["call_id"], call["name"], call["arguments"], output["output"]),
        "tools": {"anthropic": tools}, "tool_choice": {"type": "auto"},
    }, model=recorded["model"])
    assert with_parsed_arguments(body["input"]) == with_parsed_arguments(recorded["input"])
    assert body["tool_choice"] == recorded["tool_choice"]
    # Converted from another provider's list: everything but OpenAI's own "strict" flag survives.
    assert body["tools"] == [{k: v for k, v in t.items() if k != "strict"} for t in recorded["tools"]]
    assert body["model"] == recorded["model"] and body["stream"] is True
    assert "instructions" not in body  # the recording's "" is no instruction at all


# -- Chat Completions ----------------------------------------------------------------------------------


@HISTORIES
def test_chat_round_trip_matches_the_recorded_request(history: Any) -> None:
    recorded = recorded_body("openai-chat", "text-after-tool-result-include-usage")
    user, assistant, tool = recorded["messages"]
    call = assistant["tool_calls"][0]
    body = build("openai-chat", {
        "messages": history(user["content"], call["id"], call["function"]["name"], call["function"]["arguments"],
                            tool["content"]),
        "tools": {"openai": recorded["tools"]}, "tool_choice": {"type": "auto"},
    }, model=recorded["model"])
    assert with_parsed_arguments(body["messages"]) == with_parsed_arguments(recorded["messages"])
    for field in ("model", "stream", "stream_options", "tool_choice", "tools"):
        assert body[field] == recorded[field], field


# -- a longer history, both formats ---------------------------------------------------------------------


LONG_HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather and time in Paris?"},
    {"role": "assistant", "content": [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "toolu_W", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_T", "name": "get_time", "input": {}}]},
    {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_W", "content": [{"type": "text", "text": "12 °C"}]},
        {"type": "tool_result", "tool_use_id": "toolu_T", "content": "14:05", "is_error": False},
        {"type": "text", "text": "And tomorrow?"}]},
    {"role": "assistant", "content": "Let me look.",
     "tool_calls": [{"id": "call_F", "type": "function",
                     "function": {"name": "get_forecast", "arguments": "{\"city\":\"Paris\",\"days\":1}"}}]},
    {"role": "tool", "tool_call_id": "call_F", "content": "Rain"},
]


def test_long_history_into_responses_items() -> None:
    body = build("openai-responses", {"system": "Be brief.", "messages": LONG_HISTORY})
    assert body["instructions"] == "Be brief."
    assert body["input"] == [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "Checking both."},
        {"type": "function_call", "call_id": "toolu_W", "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"},
        {"type": "function_call", "call_id": "toolu_T", "name": "get_time", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "toolu_W", "output": "12 °C"},
        {"type": "function_call_output", "call_id": "toolu_T", "output": "14:05"},
        {"role": "user", "content": "And tomorrow?"},
        {"role": "assistant", "content": "Let me look."},
        {"type": "function_call", "call_id": "call_F", "name": "get_forecast",
         "arguments": "{\"city\":\"Paris\",\"days\":1}"},
        {"type": "function_call_output", "call_id": "call_F", "output": "Rain"},
    ]


def test_long_history_into_chat_messages() -> None:
    body = build("openai-chat", {"system": "Be brief.", "messages": LONG_HISTORY})
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "Checking both.", "tool_calls": [
            {"id": "toolu_W", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"id": "toolu_T", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_W", "content": "12 °C"},
        {"role": "tool", "tool_call_id": "toolu_T", "content": "14:05"},
        {"role": "user", "content": "And tomorrow?"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [
            {"id": "call_F", "type": "function",
             "function": {"name": "get_forecast", "arguments": "{\"city\":\"Paris\",\"days\":1}"}}]},
        {"role": "tool", "tool_call_id": "call_F", "content": "Rain"},
    ]
