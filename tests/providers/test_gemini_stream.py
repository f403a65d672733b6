"""The Gemini translator on hand-written streams: what the recordings do not show."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

from ..support.agui_check import reasoning_of, text_of, tool_calls_of
from ..support.harness import assert_split_invariant, provider, run_events
from ..support.upstream import sse_bytes

sse = partial(sse_bytes, crlf=True)  # Gemini's framing: data lines only, CRLF everywhere


def chunk(*parts: dict[str, Any], finish: str | None = None, index: int = 0, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": index}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-test", **extra}


@pytest.mark.parametrize("reason", ["SAFETY", "RECITATION", "PROHIBITED_CONTENT", "SPII", "BLOCKLIST"])
def test_a_filtered_finish_is_a_content_filter_error(reason: str) -> None:
    events = run_events(provider("gemini"), sse(chunk({"text": "Once upon"}), chunk(finish=reason)))
    assert text_of(events) == "Once upon"
    assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "content_filtered"
    assert reason in events[-1]["message"]


def test_a_blocked_prompt_is_a_content_filter_error() -> None:
    blocked = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
               "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}, "modelVersion": "gemini-test"}
    events = run_events(provider("gemini"), sse(blocked))
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
    assert events[-1]["code"] == "content_filtered" and "PROHIBITED_CONTENT" in events[-1]["message"]


def test_an_error_object_in_the_stream() -> None:
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    events = run_events(provider("gemini"), sse(chunk({"text": "Hi"}), error))
    assert events[-1]["code"] == "upstream_error"
    assert events[-1]["message"] == "upstream reported an error: The model is overloaded. (UNAVAILABLE)"


def test_the_end_of_the_body_without_a_finish_reason_is_truncation() -> None:
    events = run_events(provider("gemini"), sse(chunk({"text": "Hal"})))
    assert text_of(events) == "Hal"
    assert events[-1]["code"] == "upstream_truncated"


def test_max_tokens_other_reasons_and_only_candidate_zero() -> None:
    data = sse(chunk({"text": "one"}), chunk({"text": "IGNORED"}, index=1),
               chunk({"text": " two"}, finish="MAX_TOKENS"))
    events = run_events(provider("gemini"), data)
    assert text_of(events) == "one two"
    assert events[-1]["result"] == {"stopReason": "max_tokens", "providerStopReason": "MAX_TOKENS"}
    # a malformed call arrives as a finish reason with no content: passed on as the provider said it
    events = run_events(provider("gemini"), sse({"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL",
                                                                 "finishMessage": "bad call"}]}))
    assert events[-1]["result"] == {"stopReason": "MALFORMED_FUNCTION_CALL",
                                    "providerStopReason": "MALFORMED_FUNCTION_CALL"}


def test_usage_last_one_with_counts_wins_and_cache_is_part_of_the_input() -> None:
    data = sse(chunk({"text": "a"}, usageMetadata={"promptTokenCount": 99, "totalTokenCount": 99}),
               chunk({"text": "b"}, finish="STOP",
                     usageMetadata={"promptTokenCount": 40, "cachedContentTokenCount": 30, "candidatesTokenCount": 3,
                                    "thoughtsTokenCount": 7, "totalTokenCount": 50}),
               {"usageMetadata": {"trafficType": "ON_DEMAND"}})
    [usage] = run_events(provider("gemini"), data)[-1]["usage"]
    assert usage == {"provider": "gemini", "model": "gemini-test", "inputTokens": 40, "outputTokens": 10,
                     "totalTokens": 50, "reasoningTokens": 7, "cachedInputTokens": 30}


def test_parallel_whole_calls_keep_their_ids_and_text_around_them() -> None:
    data = sse(chunk({"text": "Let me check.", "thought": False}),
               chunk({"functionCall": {"name": "a", "args": {"x": [1, {"y": None}]}, "id": "fc_1"}},
                     {"functionCall": {"name": "b", "id": "fc_2"}}, finish="STOP"))
    events = run_events(provider("gemini"), data)
    assert text_of(events) == "Let me check."
    assert [(c, n, json.loads(a)) for c, n, a in tool_calls_of(events)] == [
        ("fc_1", "a", {"x": [1, {"y": None}]}), ("fc_2", "b", {})]
    assert events[-1]["result"]["stopReason"] == "tool_use"


def test_thought_then_signed_text_then_streamed_call_for_every_split() -> None:
    data = sse(chunk({"text": "Thinking… ✓", "thought": True}),
               chunk({"text": "Answer", "thoughtSignature": "c2ln"}),
               chunk({"functionCall": {"name": "f", "willContinue": True}, "thoughtSignature": "dG9vbA=="}),
               chunk({"functionCall": {"partialArgs": [{"jsonPath": "$.q", "stringValue": "ü\"", "willContinue": True}],
                                       "willContinue": True}}),
               chunk({"functionCall": {"partialArgs": [{"jsonPath": "$.q", "stringValue": "x"},
                                                       {"jsonPath": "$.n", "numberValue": 2}], "willContinue": True}}),
               chunk({"functionCall": {}}, finish="STOP"))
    events = run_events(provider("gemini"), data)
    assert reasoning_of(events) == "Thinking… ✓"
    assert text_of(events) == "Answer"
    [(call_id, name, args)] = tool_calls_of(events)
    assert (name, json.loads(args)) == ("f", {"q": "ü\"x", "n": 2})
    encrypted = [e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]
    assert [(e["subtype"], e["encryptedValue"]) for e in encrypted] == [("message", "c2ln"), ("tool-call", "dG9vbA==")]
    assert encrypted[1]["entityId"] == call_id
    assert_split_invariant(provider("gemini"), data)


def test_a_streamed_call_left_open_is_closed_with_valid_json_at_the_end() -> None:
    data = sse(chunk({"functionCall": {"name": "f", "willContinue": True}}),
               chunk({"functionCall": {"partialArgs": [{"jsonPath": "$.a.b", "stringValue": "x", "willContinue": True}],
                                       "willContinue": True}}, finish="STOP"))
    [(_, _, args)] = tool_calls_of(run_events(provider("gemini"), data))
    assert json.loads(args) == {"a": {"b": "x"}}


def test_arguments_out_of_order_end_the_run_with_a_protocol_error() -> None:
    data = sse(chunk({"functionCall": {"name": "f", "willContinue": True}}),
               chunk({"functionCall": {"partialArgs": [{"jsonPath": "$.a", "numberValue": 1},
                                                       {"jsonPath": "$.a", "numberValue": 2}], "willContinue": True}}))
    events = run_events(provider("gemini"), data)
    assert events[-1]["code"] == "upstream_protocol_error" and "out of order" in events[-1]["message"]
