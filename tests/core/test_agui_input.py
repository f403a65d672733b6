"""Reading AG-UI ``RunAgentInput`` bodies (PROTOCOL.md section 1) into the neutral conversation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ag_ui.core import (
    AssistantMessage,
    Context,
    DataSource,
    FunctionCall,
    ImagePart,
    RunAgentInput,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
)

from agui_proxy.core.conversation import ImagePart as NeutralImage
from agui_proxy.core.conversation import MediaPart
from agui_proxy.core.conversation import TextPart as NeutralText
from agui_proxy.core.conversation import Tool as NeutralTool
from agui_proxy.core.conversation import ToolCall as NeutralCall
from agui_proxy.core.inbound import InboundRequest, read_request
from agui_proxy.errors import InboundError

ARGS = "{\"city\":\"Paris\"}"


def read(value: Any) -> InboundRequest:
    return read_request(json.dumps(value).encode())


def run_input(messages: list[Any], **fields: Any) -> dict[str, Any]:
    return {"threadId": "thread-42", "runId": "run-7", "messages": messages, **fields}


def test_ids_kind_and_every_role() -> None:
    request = read(run_input([
        {"id": "m0", "role": "system", "content": "You are terse."},
        {"id": "m1", "role": "developer", "content": "Answer in French."},
        {"id": "m2", "role": "user", "content": "Weather in Paris?", "name": "ann"},
        {"id": "m3", "role": "reasoning", "content": "The user wants the weather; call the tool."},
        {"id": "m4", "role": "assistant", "content": "Checking.", "toolCalls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ARGS}},
        ]},
        {"id": "m5", "role": "activity", "activityType": "progress", "content": {"percent": 50}},
        {"id": "m6", "role": "tool", "toolCallId": "call_1", "content": "12 °C, sunny"},
        {"id": "m7", "role": "assistant", "toolCalls": [
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
        ]},
        {"id": "m8", "role": "tool", "toolCallId": "call_2", "content": "", "error": "timezone service down"},
        {"id": "m9", "role": "assistant", "content": ""},
    ], parentRunId="run-6", state={"cart": [1, 2]}, forwardedProps={"max_tokens": 5}))
    assert (request.kind, request.thread_id, request.run_id, request.parent_run_id) == (
        "agui", "thread-42", "run-7", "run-6")
    conv = request.conversation
    assert conv.system == "You are terse.\n\nAnswer in French."
    # activity and reasoning messages are dropped; an assistant turn with nothing in it too.
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert conv.messages[0].content == [NeutralText("Weather in Paris?")]
    assert conv.messages[1].text == "Checking."
    assert conv.messages[1].tool_calls == [NeutralCall("call_1", "get_weather", "{\"city\":\"Paris\"}")]
    assert (conv.messages[2].tool_call_id, conv.messages[2].text, conv.messages[2].is_error) == (
        "call_1", "12 °C, sunny", False)
    # An empty arguments string is no JSON: the call's input is {}.
    assert conv.messages[3].content == [] and conv.messages[3].tool_calls == [NeutralCall("call_2", "get_time", "{}")]
    assert (conv.messages[4].text, conv.messages[4].is_error) == ("Error: timezone service down", True)
    assert conv.tool_name_for("call_2") == "get_time"
    # state and forwardedProps are not read: the defaults stay.
    assert conv.max_tokens == 4000 and conv.tools == [] and conv.native_tools == {} and conv.tool_choice is None


def test_a_tool_error_travels_beside_a_partial_result() -> None:
    conv = read(run_input([{"id": "t", "role": "tool", "toolCallId": "c", "content": "3 of 5 rows",
                            "error": "timed out"}])).conversation
    assert conv.messages[0].text == "3 of 5 rows\nError: timed out" and conv.messages[0].is_error


def test_context_is_appended_to_the_system_prompt() -> None:
    conv = read(run_input([{"id": "s", "role": "system", "content": "Be kind."}], context=[
        {"description": "the user's name", "value": "Ann"},
        {"description": "open orders", "value": "[{\"id\": 1}]"},
    ])).conversation
    assert conv.system == ("Be kind.\n\nContext from the application:\n- the user's name: Ann\n"
                           "- open orders: [{\"id\": 1}]")
    only_context = read(run_input([], context=[{"description": "d", "value": "v"}])).conversation
    assert only_context.system == "Context from the application:\n- d: v"
    assert read(run_input([], context=[])).conversation.system is None


def test_tools_become_neutral_tools() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    conv = read(run_input([], tools=[
        {"name": "get_weather", "description": "Weather in a city", "parameters": schema},
        {"name": "ping", "description": "No arguments"},
    ])).conversation
    assert conv.tools == [NeutralTool("get_weather", "Weather in a city", schema),
                          NeutralTool("ping", "No arguments", {"type": "object", "properties": {}})]


def test_user_content_parts_of_every_kind() -> None:
    conv = read(run_input([{"id": "u", "role": "user", "content": [
        {"type": "text", "text": "Compare these."},
        {"type": "image", "source": {"type": "data", "value": "iVBORw0K", "mimeType": "image/png"}},
        {"type": "image", "source": {"type": "url", "value": "https://example.test/cat.jpg"}},
        {"type": "audio", "source": {"type": "data", "value": "UklGRg==", "mimeType": "audio/wav"}},
        {"type": "video", "source": {"type": "url", "value": "https://example.test/v.mp4", "mimeType": "video/mp4"}},
        {"type": "document", "source": {"type": "data", "value": "JVBERi0=", "mimeType": "application/pdf"},
         "metadata": {"filename": "report.pdf"}},
        {"type": "text", "text": ""},
    ]}])).conversation
    assert conv.messages[0].content == [
        NeutralText("Compare these."),
        NeutralImage(data="iVBORw0K", mime_type="image/png"),
        NeutralImage(url="https://example.test/cat.jpg"),
        MediaPart("audio", data="UklGRg==", mime_type="audio/wav"),
        MediaPart("video", url="https://example.test/v.mp4", mime_type="video/mp4"),
        MediaPart("document", data="JVBERi0=", mime_type="application/pdf", filename="report.pdf"),
    ]


def test_pre_1_0_binary_parts_are_converted() -> None:
    # The conversion @ag-ui/client 1.0.0 applies: kind from the MIME prefix, data before url.
    conv = read(run_input([{"id": "u", "role": "user", "content": [
        {"type": "binary", "mimeType": "image/jpeg", "data": "/9j/4AAQ"},
        {"type": "binary", "mimeType": "audio/mpeg", "url": "https://example.test/a.mp3"},
        {"type": "binary", "mimeType": "video/webm", "data": "GkXfow==", "url": "https://ignored.test"},
        {"type": "binary", "mimeType": "application/pdf", "data": "JVBERi0=", "filename": "a.pdf"},
    ]}])).conversation
    assert conv.messages[0].content == [
        NeutralImage(data="/9j/4AAQ", mime_type="image/jpeg"),
        MediaPart("audio", url="https://example.test/a.mp3", mime_type="audio/mpeg"),
        MediaPart("video", data="GkXfow==", mime_type="video/webm"),
        MediaPart("document", data="JVBERi0=", mime_type="application/pdf", filename="a.pdf"),
    ]


def test_an_input_built_with_the_official_models_is_read() -> None:
    built = RunAgentInput(
        thread_id="t", run_id="r", state={}, forwarded_props={}, context=[Context(description="d", value="v")],
        tools=[Tool(name="f", description="does f", parameters={"type": "object", "properties": {}})],
        messages=[
            UserMessage(id="1", content=[TextPart(text="look"),
                                         ImagePart(source=DataSource(value="AAAA", mime_type="image/gif"))]),
            AssistantMessage(id="2", tool_calls=[ToolCall(id="c", function=FunctionCall(name="f", arguments="{}"))]),
            ToolMessage(id="3", tool_call_id="c", content="done"),
        ],
    )
    conv = read(built.model_dump(mode="json", by_alias=True)).conversation
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool"]
    assert conv.messages[0].content == [NeutralText("look"), NeutralImage(data="AAAA", mime_type="image/gif")]
    assert [t.name for t in conv.tools] == ["f"] and conv.system == "Context from the application:\n- d: v"


@pytest.mark.parametrize(("value", "message"), [
    ({"runId": "r", "messages": []}, "threadId: is required"),
    ({"threadId": "t", "messages": []}, "runId: is required"),
    ({"threadId": "t", "runId": "r"}, "messages: is required"),
    ({"threadId": 5, "runId": "r", "messages": []}, "threadId: must be a string"),
    (run_input("hi"), "messages: must be a list"),
    (run_input(["hi"]), "messages[0]: must be an object"),
    (run_input([{"id": "1", "content": "x"}]), "messages[0].role: is required"),
    (run_input([{"id": "1", "role": "wizard", "content": "x"}]), "messages[0].role: unknown role 'wizard'"),
    (run_input([{"role": "user", "content": "x"}]), "messages[0].id: is required"),
    (run_input([{"id": "1", "role": "user", "content": 7}]),
     "messages[0].content: must be a string or a list of content parts"),
    (run_input([{"id": "1", "role": "user", "content": [{"type": "sticker"}]}]),
     "messages[0].content[0].type: unknown type 'sticker'"),
    (run_input([{"id": "1", "role": "user", "content": [{"type": "image", "source": {"type": "data", "value": "x"}}]}]),
     "messages[0].content[0].source.mimeType: is required"),
    (run_input([{"id": "1", "role": "user", "content": [
        {"type": "image", "source": {"type": "file", "value": "file-abc"}}]}]),
     "messages[0].content[0].source.type: 'file' sources"),
    (run_input([{"id": "1", "role": "user", "content": [{"type": "binary", "mimeType": "image/png", "id": "x"}]}]),
     "messages[0].content[0]: a binary part needs 'data' or 'url'"),
    (run_input([{"id": "1", "role": "user", "content": [{"type": "binary", "data": "AAAA"}]}]),
     "messages[0].content[0].mimeType: a binary part needs its MIME type"),
    (run_input([{"id": "0", "role": "user", "content": "hi"}, {"id": "1", "role": "user", "content": "ok"},
                {"id": "2", "role": "assistant", "toolCalls": [{"id": "c", "type": "function",
                                                               "function": {"arguments": "{}"}}]}]),
     "messages[2].toolCalls[0].function.name: is required"),
    (run_input([{"id": "1", "role": "tool", "content": "x"}]), "messages[0].toolCallId: is required"),
    (run_input([], tools=[{"name": "f"}]), "tools[0].description: is required"),
    (run_input([], tools=[{"name": "f", "description": "d", "parameters": "anything"}]),
     "tools[0].parameters: must be a JSON Schema object"),
    (run_input([], context=[{"description": "d", "value": {"a": 1}}]), "context[0].value: must be a string"),
])
def test_bad_inputs_are_422s_naming_the_field(value: Any, message: str) -> None:
    with pytest.raises(InboundError) as caught:
        read(value)
    assert caught.value.status == 422
    assert caught.value.message.startswith(message), caught.value.message
