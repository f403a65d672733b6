"""The Anthropic translator on hand-written streams: what the recordings do not show."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from agui_proxy.core.provider_tools import MARK

from ..support.agui_check import text_of, tool_calls_of
from ..support.harness import assert_split_invariant, provider, run_events
from ..support.upstream import sse_bytes

sse = partial(sse_bytes, event_lines=True)  # event: = data.type, as Anthropic frames its events


def start(**usage: int) -> dict[str, Any]:
    return {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                 "model": "claude-test-1", "content": [], "stop_reason": None,
                                                 "usage": {"input_tokens": 10, "output_tokens": 1, **usage}}}


def text_block(index: int, *pieces: str) -> list[dict[str, Any]]:
    return [{"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            *({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}}
              for p in pieces),
            {"type": "content_block_stop", "index": index}]


def end(stop_reason: str, **usage: int) -> list[dict[str, Any]]:
    return [{"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
             "usage": {"output_tokens": 5, **usage}},
            {"type": "message_stop"}]


def test_refusal_is_a_content_filter_error_after_the_text_so_far() -> None:
    events = run_events(provider("anthropic"), sse(start(), *text_block(0, "I can"), *end("refusal")))
    assert text_of(events) == "I can"
    assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "content_filtered"
    assert "refusal" in events[-1]["message"]


def test_cache_tokens_are_part_of_the_input() -> None:
    data = sse(start(cache_read_input_tokens=100, cache_creation_input_tokens=20), *text_block(0, "Hi"),
               *end("end_turn", output_tokens=50))
    [usage] = run_events(provider("anthropic"), data)[-1]["usage"]
    assert usage == {"provider": "anthropic", "model": "claude-test-1", "inputTokens": 130, "outputTokens": 50,
                     "totalTokens": 180, "cachedInputTokens": 100, "cacheWriteInputTokens": 20}


def test_stop_reasons() -> None:
    for raw, shown in [("stop_sequence", "end_turn"), ("model_context_window_exceeded", "max_tokens"),
                       ("pause_turn", "pause_turn")]:
        events = run_events(provider("anthropic"), sse(start(), *text_block(0, "x"), *end(raw)))
        assert events[-1]["result"] == {"stopReason": shown, "providerStopReason": raw}


def test_the_end_of_the_body_before_message_stop_is_truncation() -> None:
    for cut in ([start(), *text_block(0, "Hel")], [start(), *text_block(0, "Hel"), end("end_turn")[0]]):
        events = run_events(provider("anthropic"), sse(*cut))
        assert text_of(events) == "Hel"
        assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "upstream_truncated"


def test_unknown_blocks_deltas_and_events_pass_without_a_trace() -> None:
    """Anthropic's own MCP call is a provider tool call for an AG-UI client, marked as the
    provider's (docs/provider-tools-and-citations.md); the unknown block and event leave nothing."""
    data = sse(start(), {"type": "ping"},
               {"type": "content_block_start", "index": 0, "content_block": {"type": "mcp_tool_use", "id": "m",
                                                                             "name": "x", "input": {}}},
               {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta",
                                                                     "partial_json": "{\"a\":1}"}},
               {"type": "content_block_stop", "index": 0},
               {"type": "content_block_start", "index": 1, "content_block": {"type": "hologram", "data": 1}},
               {"type": "content_block_delta", "index": 1, "delta": {"type": "hologram_delta", "x": 1}},
               {"type": "content_block_stop", "index": 1},
               {"type": "future_event", "anything": True},
               *text_block(2, "Still ", "here"), *end("end_turn"))
    events = run_events(provider("anthropic"), data)
    assert text_of(events) == "Still here"
    assert tool_calls_of(events) == [("m", "x", '{"a":1}')]
    marks = [e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE" and e["entityId"] == "m"]
    assert len(marks) == 1 and MARK in marks[0]["encryptedValue"]  # the provider's, not the client's to run
    assert events[-1]["type"] == "RUN_FINISHED" and events[-1]["result"]["stopReason"] == "end_turn"
    branderux = run_events(provider("anthropic"), data, reasoning=False, citations=False, provider_tools=False)
    assert text_of(branderux) == "Still here"
    assert tool_calls_of(branderux) == []  # a server-side tool is not the client's to run
    assert [e["type"] for e in branderux if e["type"].startswith(("TOOL_CALL", "REASONING"))] == []


def test_tool_use_whose_start_carries_the_input() -> None:
    data = sse(start(), {"type": "content_block_start", "index": 0,
                         "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"q": "ü"}}},
               {"type": "content_block_stop", "index": 0}, *end("tool_use"))
    events = run_events(provider("anthropic"), data)
    assert [(c, n, json.loads(a)) for c, n, a in tool_calls_of(events)] == [("toolu_1", "f", {"q": "ü"})]


def test_in_band_error_closes_the_open_tool_call() -> None:
    data = sse(start(), {"type": "content_block_start", "index": 0,
                         "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}},
               {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta",
                                                                     "partial_json": "{\"q\":"}},
               {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}})
    events = run_events(provider("anthropic"), data)
    assert [e["type"] for e in events][-2:] == ["TOOL_CALL_END", "RUN_ERROR"]
    assert events[-1]["code"] == "upstream_error"
    assert events[-1]["message"] == "upstream reported an error: Internal server error (api_error)"


def test_data_that_is_not_json_is_a_protocol_error() -> None:
    events = run_events(provider("anthropic"), sse(start()) + b"event: content_block_delta\ndata: {oops\n\n")
    assert events[-1]["code"] == "upstream_protocol_error"


def test_hand_written_stream_same_for_every_split() -> None:
    data = sse(start(), {"type": "content_block_start", "index": 0,
                         "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
               {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "é🙂"}},
               {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s="}},
               {"type": "content_block_stop", "index": 0}, *text_block(1, "ok"), *end("end_turn"))
    assert_split_invariant(provider("anthropic"), data)


def test_parallel_tool_calls_then_text() -> None:
    def call(index: int, call_id: str, *fragments: str) -> list[dict[str, Any]]:
        return [{"type": "content_block_start", "index": index,
                 "content_block": {"type": "tool_use", "id": call_id, "name": "get_weather", "input": {}}},
                *({"type": "content_block_delta", "index": index,
                   "delta": {"type": "input_json_delta", "partial_json": f}} for f in fragments),
                {"type": "content_block_stop", "index": index}]

    data = sse(start(), *text_block(0, "Both:"), *call(1, "toolu_p", "", "{\"city\": \"Par", "is\"}"),
               *call(2, "toolu_l", "{\"city\": \"Lyon\"}"), *end("tool_use"))
    events = run_events(provider("anthropic"), data)
    assert [(c, json.loads(a)) for c, _, a in tool_calls_of(events)] == [
        ("toolu_p", {"city": "Paris"}), ("toolu_l", {"city": "Lyon"})]
    text_id = next(e["messageId"] for e in events if e["type"] == "TEXT_MESSAGE_START")
    assert {e["parentMessageId"] for e in events if e["type"] == "TOOL_CALL_START"} == {text_id}
    assert events[-1]["result"] == {"stopReason": "tool_use", "providerStopReason": "tool_use"}
