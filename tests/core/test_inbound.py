"""Reading client bodies into the neutral conversation, and refusing bad ones with a clear 4xx."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agui_proxy.core.conversation import ImagePart, TextPart, ToolCall, ToolChoice
from agui_proxy.core.inbound import read_request
from agui_proxy.errors import InboundError


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_branderux_params_body() -> None:
    request = read_request(body({"params": {
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        "tools": {"anthropic": [{"name": "show", "description": "d", "input_schema": {"type": "object"}}]},
        "max_tokens": 123,
        "tool_choice": {"type": "tool", "name": "show"},
    }}))
    conv = request.conversation
    assert request.kind == "branderux"
    assert request.thread_id.startswith("thread_") and request.run_id.startswith("run_")
    assert conv.system == "Be brief."
    assert [(m.role, m.text) for m in conv.messages] == [("user", "Hi"), ("assistant", "Hello!")]
    assert [(t.name, t.description, t.parameters) for t in conv.tools] == [("show", "d", {"type": "object"})]
    assert conv.native_tools == {
        "anthropic": [{"name": "show", "description": "d", "input_schema": {"type": "object"}}]}
    assert conv.max_tokens == 123
    assert conv.tool_choice == ToolChoice("tool", "show")


def test_flat_body_and_defaults() -> None:
    conv = read_request(body({"messages": [{"role": "user", "content": "Hi"}]})).conversation
    assert conv.max_tokens == 4000 and conv.system is None and conv.tools == [] and conv.tool_choice is None


def test_openai_style_tool_history() -> None:
    conv = read_request(body({"params": {"messages": [
        {"role": "system", "content": "S1"},
        {"role": "developer", "content": [{"type": "text", "text": "S2"}]},
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]}})).conversation
    assert conv.system == "S1\n\nS2"
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool"]
    assert conv.messages[1].tool_calls == [ToolCall("call_1", "get_weather", "{\"city\":\"Paris\"}")]
    assert conv.messages[2].tool_call_id == "call_1" and conv.messages[2].text == "sunny"
    assert conv.tool_name_for("call_1") == "get_weather"


def test_anthropic_style_tool_history() -> None:
    conv = read_request(body({"params": {"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}],
             "is_error": False},
            {"type": "text", "text": "and tomorrow?"}]},
    ]}})).conversation
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool", "user"]
    assert conv.messages[1].text == "Checking."
    assert conv.messages[1].tool_calls == [ToolCall("toolu_1", "get_weather", "{\"city\": \"Paris\"}")]
    assert conv.messages[2].tool_call_id == "toolu_1" and conv.messages[2].text == "sunny"
    assert conv.messages[3].text == "and tomorrow?"


def test_images_in_every_shape() -> None:
    conv = read_request(body({"params": {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.test/cat.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"}},
    ]}]}})).conversation
    assert conv.messages[0].content == [
        TextPart("what is this?"), ImagePart(url="https://example.test/cat.png"),
        ImagePart(data="AAAA", mime_type="image/png"), ImagePart(data="BBBB", mime_type="image/jpeg"),
    ]


@pytest.mark.parametrize(("tools", "names"), [
    ({"openai": [{"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}}]}, ["a"]),
    ({"gemini": [{"name": "b", "parameters": {"type": "OBJECT", "properties": {"x": {"type": "STRING"}}}}]}, ["b"]),
    ({"gemini": [{"functionDeclarations": [{"name": "c"}, {"name": "d"}]}]}, ["c", "d"]),
    ([{"type": "function", "function": {"name": "e"}}], ["e"]),
])
def test_tools_from_any_provider(tools: Any, names: list[str]) -> None:
    conv = read_request(body({"params": {"messages": [{"role": "user", "content": "x"}], "tools": tools}})).conversation
    assert [t.name for t in conv.tools] == names
    for tool in conv.tools:
        assert tool.parameters.get("type") == "object"
    if names == ["b"]:
        assert conv.tools[0].parameters["properties"]["x"]["type"] == "string"


@pytest.mark.parametrize(("choice", "want"), [
    ("auto", ToolChoice("auto")), ("required", ToolChoice("any")), ("none", ToolChoice("none")),
    ({"type": "any"}, ToolChoice("any")),
    ({"type": "function", "function": {"name": "f"}}, ToolChoice("tool", "f")),
])
def test_tool_choice_shapes(choice: Any, want: ToolChoice) -> None:
    params = {"messages": [{"role": "user", "content": "x"}], "tool_choice": choice}
    assert read_request(body({"params": params})).conversation.tool_choice == want


@pytest.mark.parametrize(("raw", "status", "words"), [
    (b"", 400, "empty"),
    (b"{not json", 400, "not valid JSON"),
    (b"\xff\xfe{}", 400, "UTF-8"),
    (b"[1, 2]", 422, "JSON object"),
    (b"[" * 100 + b"]" * 100, 400, "nests deeper"),
    (body({"params": []}), 422, "params: must be an object"),
    (body({"params": {}}), 422, "params.messages"),
    (body({"params": {"messages": "hi"}}), 422, "params.messages"),
    (body({"params": {"messages": [{"role": "wizard", "content": "x"}]}}), 422, "params.messages[0].role"),
    (body({"params": {"messages": [{"role": "user", "content": 5}]}}), 422, "params.messages[0].content"),
    (body({"params": {"messages": [{"role": "user"}]}}), 422, "params.messages[0].content"),
    (body({"params": {"messages": [{"role": "tool", "content": "x"}]}}), 422, "params.messages[0].tool_call_id"),
    (body({"params": {"messages": [], "max_tokens": "many"}}), 422, "params.max_tokens"),
    (body({"params": {"messages": [], "max_tokens": 0}}), 422, "params.max_tokens"),
    (body({"params": {"messages": [], "tools": {"openai": [{"type": "function", "function": {}}]}}}), 422,
     "params.tools.openai[0].name"),
    (body({"params": {"messages": [], "tool_choice": {"type": "sometimes"}}}), 422, "params.tool_choice.type"),
    (body({"params": {"messages": [{"role": "user", "content": [{"type": "audio"}]}]}}), 422,
     "params.messages[0].content[0].type"),
    (body({"hello": 1}), 422, "expected"),
])
def test_bad_bodies_name_the_problem(raw: bytes, status: int, words: str) -> None:
    with pytest.raises(InboundError) as caught:
        read_request(raw)
    assert caught.value.status == status
    assert words in caught.value.message
