"""A whole non-streamed answer gives the events its stream gives (providers/whole_response.py).

For each recording, the whole body the provider would have answered without streaming is put
together from the recorded events, the way the providers' SDKs accumulate a stream (for
Responses it is recorded as is: ``response.completed`` carries the whole response).  The events
of that body, through :meth:`RunPipeline.feed_whole`, must be the stream's events, with only the
text of each message, tool call or reasoning message arriving in one delta instead of many.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from agui_proxy.core.encoder import EventEncoder
from agui_proxy.core.pipeline import RunPipeline
from agui_proxy.core.run import RunBuilder
from agui_proxy.core.sse import SSEDecoder
from agui_proxy.errors import UpstreamProtocolError
from agui_proxy.providers.whole_response import whole_response_events

from ..support.agui_check import assert_valid_run, parse_frames
from ..support.harness import counter_ids, provider, run_bytes
from ..support.recordings import STREAMS, recorded_file


def payloads(relative: str) -> list[dict[str, Any]]:
    path = recorded_file(relative)
    decoder = SSEDecoder()
    events = decoder.feed(path.read_bytes()) + decoder.close()
    return [json.loads(e.data) for e in events if e.data and e.data != "[DONE]"]


# -- putting the whole body together, as the SDKs accumulate a stream --------------------------------


def chat_whole(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant"}
    calls: dict[int, dict[str, Any]] = {}
    details: dict[tuple[str, int], dict[str, Any]] = {}
    body: dict[str, Any] = {"object": "chat.completion", "choices": []}
    finish = None
    for chunk in chunks:
        body.update({k: chunk[k] for k in ("id", "model", "created") if chunk.get(k)})
        if chunk.get("usage"):
            body["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            finish = choice.get("finish_reason") or finish
            delta = choice.get("delta") or {}
            for key in ("content", "reasoning_content", "reasoning", "refusal"):
                if isinstance(delta.get(key), str):
                    message[key] = message.get(key, "") + delta[key]
            for detail in delta.get("reasoning_details") or []:
                entry = details.setdefault((detail["type"], detail.get("index", 0)), {})
                for key, value in detail.items():
                    entry[key] = entry.get(key, "") + value if key in ("text", "summary") else (value or entry.get(key))
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(call.get("index", 0), {"type": "function", "function": {"arguments": ""}})
                entry["id"] = call.get("id") or entry.get("id")
                fn = call.get("function") or {}
                entry["function"]["name"] = fn.get("name") or entry["function"].get("name")
                entry["function"]["arguments"] += fn.get("arguments") or ""
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    if details:
        message["reasoning_details"] = list(details.values())
    body["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
    return body


def responses_whole(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The terminal event's response, with the output items of the ``output_item.done`` events (as
    the SDKs accumulate): OpenAI encrypts a reasoning item's content anew for ``response.completed``,
    so the two carry different, equally valid, ``encrypted_content`` values."""
    done = [e for e in events if e["type"] in ("response.completed", "response.incomplete", "response.failed")]
    items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    response: dict[str, Any] = {**done[-1]["response"], "output": items}
    return response


def anthropic_whole(events: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            message = dict(event["message"])
        elif kind == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif kind == "content_block_delta":
            block, delta = blocks[event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
        elif kind == "message_delta":
            message.update(event["delta"])
            message["usage"] = {**message.get("usage", {}), **event["usage"]}
    for index, text in partial.items():
        blocks[index]["input"] = json.loads(text) if text else {}
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return message


def gemini_whole(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    candidate: dict[str, Any] = {"index": 0}
    body: dict[str, Any] = {}
    for chunk in chunks:
        body.update({k: v for k, v in chunk.items() if k != "candidates"})
        for cand in chunk.get("candidates") or []:
            candidate.update({k: v for k, v in cand.items() if k != "content"})
            for part in (cand.get("content") or {}).get("parts") or []:
                last = parts[-1] if parts else None
                if (last is not None and set(part) == {"text"} and set(last) <= {"text", "thought"}
                        and "text" in last and not last.get("thought")):
                    last["text"] += part["text"]  # the whole answer's text is one part
                else:
                    parts.append(dict(part))
    candidate["content"] = {"role": "model", "parts": parts}
    body["candidates"] = [candidate]
    return body


def normalized(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with each message's, call's or reasoning's consecutive deltas joined."""
    out: list[dict[str, Any]] = []
    for event in events:
        event = {k: v for k, v in event.items() if k != "timestamp"}
        kind = event["type"]
        if kind in ("TEXT_MESSAGE_CONTENT", "TOOL_CALL_ARGS", "REASONING_MESSAGE_CONTENT") and out and \
                out[-1]["type"] == kind and {k: v for k, v in out[-1].items() if k != "delta"} == \
                {k: v for k, v in event.items() if k != "delta"}:
            out[-1] = {**out[-1], "delta": out[-1]["delta"] + event["delta"]}
        else:
            out.append(event)
    return out


def whole_run(name: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    run = RunBuilder("thread_1", "run_1", id_factory=counter_ids())
    stream = RunPipeline(run, provider(name).translator, EventEncoder(clock=lambda: 1_700_000_000.0))
    data = stream.start() + stream.feed_whole(json.dumps(body).encode(), lambda b: whole_response_events(name, b))
    events, done = parse_frames(data)
    assert done
    assert_valid_run(events)
    return events


CASES: list[tuple[str, str, Callable[[list[dict[str, Any]]], dict[str, Any]]]] = [
    ("openai-chat", "openai-chat/text-basic-gpt4o.sse", chat_whole),
    ("openai-chat", "openai-chat/tool-call-single-include-usage.sse", chat_whole),
    ("openai-chat", "openai-chat/tool-calls-parallel.sse", chat_whole),
    ("openai-chat", "openai-chat/refusal-with-logprobs.sse", chat_whole),
    ("openai-chat", "openai-compatible/deepseek-reasoning-then-tool-call.sse", chat_whole),
    ("openai-chat", "openai-compatible/openrouter-reasoning-comments.sse", chat_whole),
    ("openai-responses", "openai-responses/text-basic.sse", responses_whole),
    ("openai-responses", "openai-responses/function-call.sse", responses_whole),
    ("openai-responses", "openai-responses/reasoning-summary-multipart-long.sse", responses_whole),
    ("openai-responses", "openai-responses/reasoning-summary-then-function-call.sse", responses_whole),
    ("anthropic", "anthropic/text-basic.sse", anthropic_whole),
    ("anthropic", "anthropic/thinking-signature.sse", anthropic_whole),
    ("anthropic", "anthropic/thinking-then-tool-use.sse", anthropic_whole),
    ("anthropic", "anthropic/redacted-thinking.sse", anthropic_whole),
    ("anthropic", "anthropic/tool-use-empty-input.sse", anthropic_whole),
    ("anthropic", "anthropic/adaptive-thinking-text-before-thinking.sse", anthropic_whole),
    ("gemini", "gemini/text-basic.sse", gemini_whole),
    ("gemini", "gemini/function-call.sse", gemini_whole),
    ("gemini", "gemini/function-call-thought-signature-gemini3.sse", gemini_whole),
    ("gemini", "gemini/thinking-thought-parts.sse", gemini_whole),
]


@pytest.mark.parametrize(("name", "relative", "whole"), CASES, ids=[c[1] for c in CASES])
def test_a_whole_answer_gives_the_events_of_its_stream(
        name: str, relative: str, whole: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> None:
    recorded = (STREAMS / relative)
    streamed, _ = parse_frames(run_bytes(provider(name), [recorded.read_bytes()] if recorded.is_file() else []))
    body = whole(payloads(relative))
    assert normalized(whole_run(name, body)) == normalized(streamed)
    assert streamed[-1]["type"] == "RUN_FINISHED"


def test_a_gemini_json_array_is_each_of_its_responses() -> None:
    chunks = payloads("gemini/text-basic.sse")
    streamed, _ = parse_frames(run_bytes(provider("gemini"), [(STREAMS / "gemini/text-basic.sse").read_bytes()]))
    assert normalized(whole_run("gemini", chunks)) == normalized(streamed)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "body", "code", "words"), [
    ("anthropic", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
     "upstream_error", "Overloaded"),
    ("openai-chat", {"error": {"message": "Rate limit reached", "type": "requests"}}, "upstream_error",
     "Rate limit reached"),
    ("gemini", {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}, "upstream_error",
     "Internal error"),
    ("openai-responses", {"id": "resp_1", "status": "failed", "output": [],
                          "error": {"code": "server_error", "message": "The server failed"}},
     "upstream_error", "The server failed"),
    ("gemini", {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "Hi"}]}}]},
     "upstream_truncated", "finishReason"),
])
def test_a_whole_error_or_unfinished_answer_ends_the_run_as_its_stream_would(
        name: str, body: dict[str, Any], code: str, words: str) -> None:
    events = whole_run(name, body)
    assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == code, events[-1]
    assert words in events[-1]["message"]


def test_a_whole_body_that_is_not_a_response_is_a_protocol_error() -> None:
    for body in (b"not json", b"42", b"[1, 2]"):
        with pytest.raises(UpstreamProtocolError):
            for name in ("openai-chat", "anthropic", "openai-responses"):
                whole_response_events(name, body)
    with pytest.raises(UpstreamProtocolError, match="replay"):
        whole_response_events("replay", b"{}")
