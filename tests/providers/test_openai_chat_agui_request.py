"""The Chat Completions request built from an AG-UI ``RunAgentInput`` (its roles, tools, context, media)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agui_proxy.errors import InboundError

from ..support.harness import built_request

ARGS = "{\"city\":\"Paris\"}"


def build(messages: list[Any], **fields: Any) -> dict[str, Any]:
    body = {"threadId": "t", "runId": "r", "messages": messages, **fields}
    request = built_request("openai-chat", body, api_key="sk-key", model="gpt-4o-mini")
    result: dict[str, Any] = json.loads(request.body)
    return result


def test_a_tool_round_trip_with_context_and_tools() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    body = build([
        {"id": "0", "role": "developer", "content": "Be brief."},
        {"id": "1", "role": "user", "content": "Weather in Paris?"},
        {"id": "2", "role": "reasoning", "content": "call the tool"},
        {"id": "3", "role": "assistant", "toolCalls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ARGS}}]},
        {"id": "4", "role": "tool", "toolCallId": "call_1", "content": "", "error": "service down"},
    ], tools=[{"name": "get_weather", "description": "Weather", "parameters": schema}],
        context=[{"description": "unit", "value": "celsius"}])
    assert body["messages"] == [
        {"role": "system", "content": "Be brief.\n\nContext from the application:\n- unit: celsius"},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ARGS}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Error: service down"},
    ]
    assert body["tools"] == [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                                               "parameters": schema}}]
    assert body["max_tokens"] == 4000


def test_media_the_api_takes() -> None:
    body = build([{"id": "1", "role": "user", "content": [
        {"type": "text", "text": "Listen and read."},
        {"type": "image", "source": {"type": "url", "value": "https://example.test/a.png"}},
        {"type": "audio", "source": {"type": "data", "value": "UklGRg==", "mimeType": "audio/wav"}},
        {"type": "binary", "mimeType": "audio/mpeg", "data": "SUQz"},
        {"type": "document", "source": {"type": "data", "value": "JVBERi0=", "mimeType": "application/pdf"},
         "metadata": {"filename": "report.pdf"}},
    ]}])
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Listen and read."},
        {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "input_audio", "input_audio": {"data": "SUQz", "format": "mp3"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "report.pdf"}},
    ]


@pytest.mark.parametrize(("part", "words"), [
    ({"type": "video", "source": {"type": "data", "value": "AAAA", "mimeType": "video/mp4"}}, "video (video/mp4)"),
    ({"type": "audio", "source": {"type": "url", "value": "https://example.test/a.wav", "mimeType": "audio/wav"}},
     "audio (audio/wav) by URL"),
    ({"type": "audio", "source": {"type": "data", "value": "AAAA", "mimeType": "audio/ogg"}}, "audio (audio/ogg)"),
    ({"type": "document", "source": {"type": "url", "value": "https://example.test/a.pdf"}}, "document"),
])
def test_media_the_api_cannot_take_is_refused(part: dict[str, Any], words: str) -> None:
    with pytest.raises(InboundError) as caught:
        build([{"id": "1", "role": "user", "content": [part]}])
    assert caught.value.status == 422
    assert f"the Chat Completions API cannot take a {words}" in caught.value.message


def test_a_tool_result_with_media_is_refused() -> None:
    with pytest.raises(InboundError) as caught:
        build([{"id": "1", "role": "tool", "toolCallId": "c", "content": [
            {"type": "image", "source": {"type": "url", "value": "https://example.test/chart.png"}}]}])
    assert caught.value.status == 422 and "tool result" in caught.value.message
