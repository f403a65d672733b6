"""The OpenAI-compatible family's quirks, one small hand-written stream each (FORMATS.md section 2).

Each stream is shaped after the recording named in its test (openai-compatible/), reduced to the
quirk, and also fed byte by byte and split at every offset.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..support.agui_check import parse_frames, reasoning_of, text_of, tool_calls_of, types
from ..support.harness import assert_split_invariant, provider, run_bytes


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "gen-1", "object": "chat.completion.chunk", "model": "some/model",
                           "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}
    out.update(extra)
    return out


def body(*items: dict[str, Any] | bytes, done: bool = True) -> bytes:
    out = [i if isinstance(i, bytes) else f"data: {json.dumps(i)}\n\n".encode() for i in items]
    return b"".join(out) + (b"data: [DONE]\n\n" if done else b"")


def events_of(data: bytes) -> list[dict[str, Any]]:
    events, done = parse_frames(assert_split_invariant(provider("openai-chat"), data))
    assert done
    return events


USAGE = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30,
         "completion_tokens_details": {"reasoning_tokens": 15}}


def test_reasoning_content_then_content() -> None:
    """DeepSeek, vLLM, xAI, Z.ai: ``delta.reasoning_content`` (deepseek-reasoning-content.sse)."""
    events = events_of(body(
        chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
        chunk({"content": None, "reasoning_content": "Think 🤔"}), chunk({"content": None, "reasoning_content": "."}),
        chunk({"content": "Answer", "reasoning_content": None}), chunk({}, "stop", usage=USAGE)))
    assert types(events) == ["RUN_STARTED", "REASONING_START", "REASONING_MESSAGE_START",
                             "REASONING_MESSAGE_CONTENT", "REASONING_MESSAGE_CONTENT", "REASONING_MESSAGE_END",
                             "REASONING_END", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
                             "RUN_FINISHED"]
    assert reasoning_of(events) == "Think 🤔." and text_of(events) == "Answer"
    assert events[-1]["usage"][0]["reasoningTokens"] == 15


def test_reasoning_field_with_reasoning_details_counts_once() -> None:
    """OpenRouter sends the same text as ``reasoning`` and in ``reasoning_details``
    (openrouter-reasoning-comments.sse); Groq sends ``reasoning`` alone."""
    def detail(text: str, **more: Any) -> dict[str, Any]:
        return {"type": "reasoning.text", "text": text, "format": "anthropic-claude-v1", "index": 0, **more}

    events = events_of(body(
        chunk({"role": "assistant", "content": "", "reasoning": None, "reasoning_details": []}),
        chunk({"content": "", "reasoning": "2+2", "reasoning_details": [detail("2+2")]}),
        chunk({"content": "", "reasoning": " is 4.", "reasoning_details": [detail(" is 4.")]}),
        chunk({"content": "", "reasoning": None, "reasoning_details": [detail("", signature="Et0BsigVALUE==")]}),
        chunk({"content": "4", "reasoning": None, "reasoning_details": []}),
        chunk({"content": ""}, "stop")))
    assert reasoning_of(events) == "2+2 is 4." and text_of(events) == "4"
    signature = next(e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE")
    assert signature["encryptedValue"] == "Et0BsigVALUE=="
    assert signature["entityId"] == next(e for e in events if e["type"] == "REASONING_START")["messageId"]
    # The signature arrives while that reasoning message is open, before the text starts it closes.
    assert types(events).index("REASONING_ENCRYPTED_VALUE") < types(events).index("REASONING_MESSAGE_END")


def test_reasoning_details_alone_are_read() -> None:
    """A chunk with ``reasoning_details`` but no ``reasoning`` string: summary and encrypted data too."""
    events = events_of(body(
        chunk({"reasoning_details": [{"type": "reasoning.summary", "summary": "Plan: add."}]}),
        chunk({"reasoning_details": [{"type": "reasoning.encrypted", "data": "gAAAA-opaque"}]}),
        chunk({"content": "4"}, "stop")))
    assert reasoning_of(events) == "Plan: add."
    assert [e["encryptedValue"] for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"] == ["gAAAA-opaque"]


def test_repeated_index_with_a_new_id_is_a_new_call() -> None:
    """Servers that number every call index 0: a new ``id`` under an open index starts a new call."""
    events = events_of(body(
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "a", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x":1}'}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "call_2", "type": "function",
                               "function": {"name": "b", "arguments": '{"y":2}'}}]}),
        chunk({}, "tool_calls")))
    assert tool_calls_of(events) == [("call_1", "a", '{"x":1}'), ("call_2", "b", '{"y":2}')]
    assert events[-1]["result"] == {"stopReason": "tool_use", "providerStopReason": "tool_calls"}


def test_repeated_id_and_name_on_every_fragment_is_one_call() -> None:
    """openrouter-kimi-tool-call-repeated-id.sse: id ``"0"`` and the name resent with each fragment."""
    events = events_of(body(
        chunk({"tool_calls": [{"index": 0, "id": "0", "type": "function",
                               "function": {"name": "llm_version", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "0", "type": "function",
                               "function": {"name": "llm_version", "arguments": "{}"}}]})))
    assert tool_calls_of(events) == [("0", "llm_version", "{}")]
    assert "result" not in events[-1]  # that stream never sends a finish_reason


def test_same_id_for_two_calls_is_made_unique() -> None:
    events = events_of(body(
        chunk({"tool_calls": [{"index": 0, "id": "0", "function": {"name": "a", "arguments": "{}"}},
                              {"index": 1, "id": "0", "function": {"name": "b", "arguments": "{}"}}]}),
        chunk({}, "tool_calls")))
    ids = [cid for cid, _, _ in tool_calls_of(events)]
    assert len(ids) == 2 and len(set(ids)) == 2 and ids[0] == "0"


def test_missing_index_falls_back_to_the_id_then_to_the_last_call() -> None:
    events = events_of(body(
        chunk({"tool_calls": [{"id": "call_A", "type": "function", "function": {"name": "a", "arguments": "{\"q\""}}]}),
        chunk({"tool_calls": [{"function": {"arguments": ":1}"}}]}),
        chunk({"tool_calls": [{"id": "call_B", "type": "function", "function": {"name": "b", "arguments": "{}"}}]}),
        chunk({}, "tool_calls")))
    assert tool_calls_of(events) == [("call_A", "a", '{"q":1}'), ("call_B", "b", "{}")]


def test_arguments_given_as_an_object() -> None:
    events = events_of(body(
        chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "a", "arguments": {"k": "é"}}}]}),
        chunk({}, "tool_calls")))
    assert tool_calls_of(events) == [("c1", "a", '{"k": "é"}')]


def test_error_chunk_inside_a_200_stream() -> None:
    """openrouter-midstream-error-in-chunk.sse: ``{"error": {code, message}}`` then ``[DONE]``."""
    events = events_of(body(
        chunk({"role": "assistant", "content": "", "reasoning": "We need"}),
        chunk({"content": ""}, error={"code": 400, "message": "Token limit reached"})))
    assert types(events)[-3:] == ["REASONING_MESSAGE_END", "REASONING_END", "RUN_ERROR"]
    assert events[-1]["code"] == "upstream_error" and "Token limit reached" in events[-1]["message"]


def test_groq_named_error_event_without_done() -> None:
    """groq-event-error-tool-use-failed.sse: ``event: error`` and no ``[DONE]`` after it."""
    error = b'event: error\ndata: {"error":{"message":"Tool call validation failed","type":"invalid_request_error",' \
            b'"code":"tool_use_failed"}}\n\n'
    events = events_of(body(chunk({"reasoning": "Calling."}), error, done=False))
    assert events[-1]["code"] == "upstream_error"
    assert events[-1]["message"] == "upstream reported an error: Tool call validation failed (invalid_request_error)"


@pytest.mark.parametrize("comment", [b": OPENROUTER PROCESSING\n\n", b": keep-alive\n\n", b":\n\n", b"data:\n\n"],
                         ids=["openrouter", "deepseek", "bare-colon", "empty-data"])
def test_keep_alives_anywhere_change_nothing(comment: bytes) -> None:
    plain = [chunk({"role": "assistant", "content": "Hel"}), chunk({"content": "lo"}), chunk({}, "stop")]
    reference = events_of(body(*plain))
    padded = events_of(body(comment, comment, plain[0], comment, plain[1], plain[2], comment))
    assert [(e["type"], e.get("delta")) for e in padded] == [(e["type"], e.get("delta")) for e in reference]


@pytest.mark.parametrize("where", ["own-chunk", "finish-chunk", "after-finish-with-choices"])
def test_usage_wherever_it_rides(where: str) -> None:
    """OpenAI/vLLM: its own chunk with ``choices: []``; Groq/DeepSeek: the finish chunk;
    OpenRouter: a chunk after the finish chunk that still has a choice."""
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10,
             "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 0}}
    items = {
        "own-chunk": [chunk({"content": "Hi"}), chunk({}, "stop"), {**chunk(), "choices": [], "usage": usage}],
        "finish-chunk": [chunk({"content": "Hi"}), chunk({}, "stop", usage=usage)],
        "after-finish-with-choices": [chunk({"content": "Hi"}), chunk({}, "stop"), chunk({"content": ""}, usage=usage)],
    }[where]
    events = events_of(body(*items))
    assert events[-1]["usage"] == [{"provider": "openai", "model": "some/model", "inputTokens": 7, "outputTokens": 3,
                                    "totalTokens": 10, "reasoningTokens": 0, "cachedInputTokens": 4}]
    assert events[-1]["result"] == {"stopReason": "end_turn", "providerStopReason": "stop"}


def test_deepseek_cache_hit_tokens() -> None:
    usage = {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55, "prompt_cache_hit_tokens": 32,
             "prompt_cache_miss_tokens": 18}
    events = events_of(body(chunk({"content": "Hi"}), chunk({}, "stop", usage=usage)))
    assert events[-1]["usage"][0]["cachedInputTokens"] == 32


def test_length_and_content_filter_finish_reasons() -> None:
    events = events_of(body(chunk({"content": "Cut"}), chunk({}, "length")))
    assert events[-1]["result"] == {"stopReason": "max_tokens", "providerStopReason": "length"}
    events = events_of(body(chunk({"content": "Part"}), chunk({}, "content_filter")))
    assert events[-1]["code"] == "content_filtered" and text_of(events) == "Part"


def test_empty_data_events_are_ignored_as_keep_alives() -> None:
    data = (b'data:\n\ndata: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata:\n\n'
            b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    events, done = parse_frames(run_bytes(provider("openai-chat"), [data]))
    assert done and text_of(events) == "hi" and events[-1]["type"] == "RUN_FINISHED"
