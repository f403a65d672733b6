"""The Responses translator on small hand-written streams: each case FORMATS.md section 3 names.

The recordings cover the common paths (tests/providers/test_openai_responses_recordings.py);
these cover what no recording shows: parallel calls, incomplete responses, refusals, both error
shapes, events this translator does not map, and servers that skip deltas.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from ..support.agui_check import assert_valid_run, parse_frames, reasoning_of, text_of, tool_calls_of, types
from ..support.harness import assert_split_invariant, provider, run_bytes, run_events
from ..support.upstream import sse_bytes

USAGE = {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 100}, "output_tokens": 50,
         "output_tokens_details": {"reasoning_tokens": 30}, "total_tokens": 170}


# Events as api.openai.com frames them (event: = data.type); event_lines=False is OpenRouter's data-only.
sse = partial(sse_bytes, event_lines=True)


def created(model: str = "gpt-5-2025-08-07") -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "model": model,
                                                     "output": [], "usage": None}}


def completed(usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "response.completed", "response": {"id": "resp_1", "status": "completed",
                                                       "model": "gpt-5-2025-08-07", "usage": usage or USAGE}}


def message(index: int, item_id: str, *deltas: str) -> list[dict[str, Any]]:
    return [
        {"type": "response.output_item.added", "output_index": index,
         "item": {"type": "message", "id": item_id, "role": "assistant", "content": [], "status": "in_progress"}},
        *({"type": "response.output_text.delta", "item_id": item_id, "output_index": index, "content_index": 0,
           "delta": d} for d in deltas),
        {"type": "response.output_text.done", "item_id": item_id, "output_index": index, "content_index": 0,
         "text": "".join(deltas)},
    ]


def call_added(index: int, item_id: str, call_id: str, name: str) -> dict[str, Any]:
    return {"type": "response.output_item.added", "output_index": index,
            "item": {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": "",
                     "status": "in_progress"}}


def args_delta(index: int, item_id: str, delta: str) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.delta", "item_id": item_id, "output_index": index,
            "delta": delta}


def args_done(index: int, item_id: str, arguments: str) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.done", "item_id": item_id, "output_index": index,
            "arguments": arguments}


def events_of(*payloads: dict[str, Any], reasoning: bool = True, event_lines: bool = True,
              **client: bool) -> list[dict[str, Any]]:
    data = sse(*payloads, event_lines=event_lines)
    events = run_events(provider("openai-responses"), data, reasoning=reasoning, **client)
    assert run_bytes(provider("openai-responses"), [data[i:i + 1] for i in range(len(data))],
                     reasoning=reasoning, **client) == run_bytes(provider("openai-responses"), [data],
                                                                 reasoning=reasoning, **client)
    return events


def test_parallel_calls_interleaved_keep_their_own_arguments() -> None:
    events = events_of(
        created(),
        call_added(0, "fc_a", "call_A", "get_weather"),
        call_added(1, "fc_b", "call_B", "get_time"),
        args_delta(0, "fc_a", '{"city":'), args_delta(1, "fc_b", '{"tz":'),
        args_delta(1, "fc_b", '"CET"}'), args_delta(0, "fc_a", '"Paris"}'),
        args_done(1, "fc_b", '{"tz":"CET"}'), args_done(0, "fc_a", '{"city":"Paris"}'),
        completed(),
    )
    assert tool_calls_of(events) == [("call_A", "get_weather", '{"city":"Paris"}'),
                                     ("call_B", "get_time", '{"tz":"CET"}')]
    ends = [e["toolCallId"] for e in events if e["type"] == "TOOL_CALL_END"]
    assert ends == ["call_B", "call_A"]  # each ends when its own arguments are done
    assert events[-1]["result"] == {"stopReason": "tool_use", "providerStopReason": "completed"}


def test_deltas_found_by_output_index_when_item_id_is_missing() -> None:
    events = events_of(
        created(),
        call_added(0, "fc_a", "call_A", "one"), call_added(1, "fc_b", "call_B", "two"),
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": '{"n":2}'},
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": '{"n":1}'},
        completed(),
    )
    assert tool_calls_of(events) == [("call_A", "one", '{"n":1}'), ("call_B", "two", '{"n":2}')]


def test_text_then_call_then_text_are_separate_messages() -> None:
    events = events_of(
        created(), *message(0, "msg_1", "Let me ", "check."),
        call_added(1, "fc_1", "call_1", "lookup"), args_delta(1, "fc_1", "{}"), args_done(1, "fc_1", "{}"),
        *message(2, "msg_2", "Done."), completed(),
    )
    starts = [e for e in events if e["type"] == "TEXT_MESSAGE_START"]
    assert len(starts) == 2 and starts[0]["messageId"] != starts[1]["messageId"]
    assert text_of(events) == "Let me check.Done."
    call = next(e for e in events if e["type"] == "TOOL_CALL_START")
    assert call["parentMessageId"] == starts[0]["messageId"]


def test_call_with_no_arguments_gets_an_empty_object() -> None:
    events = events_of(created(), call_added(0, "fc_1", "call_1", "now"), args_done(0, "fc_1", ""), completed())
    assert tool_calls_of(events) == [("call_1", "now", "{}")]


def test_usage_counts_cached_and_reasoning_tokens_inside_the_totals() -> None:
    events = events_of(created(), *message(0, "msg_1", "Hi"), completed())
    assert events[-1]["usage"] == [{"provider": "openai", "model": "gpt-5-2025-08-07", "inputTokens": 120,
                                    "outputTokens": 50, "totalTokens": 170, "reasoningTokens": 30,
                                    "cachedInputTokens": 100}]


def test_incomplete_at_max_output_tokens_finishes_with_max_tokens() -> None:
    events = events_of(
        created(), *message(0, "msg_1", "The answer is")[:-1],
        {"type": "response.incomplete", "response": {"status": "incomplete", "usage": USAGE,
                                                     "incomplete_details": {"reason": "max_output_tokens"}}},
    )
    assert types(events)[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert events[-1]["result"] == {"stopReason": "max_tokens", "providerStopReason": "max_output_tokens"}
    assert events[-1]["usage"][0]["outputTokens"] == 50


def test_incomplete_by_the_content_filter_is_an_error() -> None:
    events = events_of(
        created(), *message(0, "msg_1", "Sure, here")[:-1],
        {"type": "response.incomplete", "response": {"status": "incomplete", "usage": USAGE,
                                                     "incomplete_details": {"reason": "content_filter"}}},
    )
    assert types(events)[-2:] == ["TEXT_MESSAGE_END", "RUN_ERROR"]
    assert events[-1]["code"] == "content_filtered"
    assert text_of(events) == "Sure, here"


def test_refusal_is_shown_as_text_and_named_in_the_result() -> None:
    events = events_of(
        created(),
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}},
        {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0,
         "part": {"type": "refusal", "refusal": ""}},
        {"type": "response.refusal.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
         "delta": "I can't help"},
        {"type": "response.refusal.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
         "delta": " with that."},
        {"type": "response.refusal.done", "item_id": "msg_1", "output_index": 0, "content_index": 0,
         "refusal": "I can't help with that."},
        completed(),
    )
    assert text_of(events) == "I can't help with that."
    assert events[-1]["result"] == {"stopReason": "refusal", "providerStopReason": "completed"}


@pytest.mark.parametrize("error_event", [
    {"type": "error", "sequence_number": 3,
     "error": {"type": "server_error", "code": "server_error", "message": "The server had an error", "param": None}},
    {"type": "error", "sequence_number": 3, "code": "server_error", "message": "The server had an error",
     "param": None},
], ids=["nested-as-recorded", "top-level-as-published"])
def test_error_event_in_both_shapes_closes_what_is_open(error_event: dict[str, Any]) -> None:
    events = events_of(created(), call_added(0, "fc_1", "call_1", "lookup"), args_delta(0, "fc_1", '{"q":'),
                       error_event)
    assert types(events)[-3:] == ["TOOL_CALL_ARGS", "TOOL_CALL_END", "RUN_ERROR"]
    assert events[-1]["code"] == "upstream_error"
    assert events[-1]["message"] == "upstream reported an error: The server had an error (server_error)"


def test_failed_response_without_an_error_event() -> None:
    events = events_of(
        created(), *message(0, "msg_1", "Part")[:-1],
        {"type": "response.failed", "response": {"status": "failed", "usage": None,
                                                 "error": {"code": "rate_limit_exceeded", "message": "Slow down"}}},
    )
    assert events[-1] == {"type": "RUN_ERROR", "code": "upstream_error", "timestamp": events[-1]["timestamp"],
                          "message": "upstream reported an error: Slow down (rate_limit_exceeded)"}


def test_event_families_it_does_not_map_are_ignored() -> None:
    """The web search and its citation are mapped for an AG-UI client (docs/provider-tools-and-citations.md)
    and nothing for a BranderUX one; the custom tool's input and the unknown event, for neither."""
    stream = (
        created(),
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "web_search_call", "id": "ws_1", "status": "in_progress"}},
        {"type": "response.web_search_call.searching", "output_index": 0, "item_id": "ws_1"},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"type": "web_search_call", "id": "ws_1", "status": "completed"}},
        *message(1, "msg_1", "Found it."),
        {"type": "response.output_text.annotation.added", "item_id": "msg_1", "output_index": 1,
         "content_index": 0, "annotation_index": 0, "annotation": {"type": "url_citation", "url": "https://x"}},
        {"type": "response.custom_tool_call_input.delta", "item_id": "ct_1", "output_index": 2, "delta": "x"},
        {"type": "response.some_future_event", "payload": {"anything": True}},
        completed(),
    )
    branderux = events_of(*stream, citations=False, provider_tools=False)
    assert types(branderux) == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
                                "RUN_FINISHED"]
    agui = events_of(*stream)
    assert types(agui) == ["RUN_STARTED", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END",
                           "REASONING_ENCRYPTED_VALUE", "TOOL_CALL_RESULT", "TEXT_MESSAGE_START",
                           "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert agui[-2]["metadata"] == {"citations": [{"url": "https://x", "title": "https://x"}]}


def test_openrouter_data_only_with_comments_and_a_trailing_done() -> None:
    body = b": OPENROUTER PROCESSING\n\n" + sse(created("openai/gpt-oss-20b"), *message(0, "msg_1", "4"),
                                                 completed(), event_lines=False) + b"data: [DONE]\n\n"
    whole = assert_split_invariant(provider("openai-responses"), body)
    events, done = parse_frames(whole)
    assert done and text_of(events) == "4"
    assert types(events).count("RUN_FINISHED") == 1 and events[-1]["type"] == "RUN_FINISHED"


def test_done_before_the_terminal_event_is_a_truncated_stream() -> None:
    events = events_of(created(), *message(0, "msg_1", "Half"))
    assert events[-1]["code"] == "upstream_truncated"  # EOF with no response.completed
    data = sse(created(), *message(0, "msg_1", "Half")) + b"data: [DONE]\n\n"
    events, _ = parse_frames(run_bytes(provider("openai-responses"), [data]))
    assert_valid_run(events)
    assert events[-1]["code"] == "upstream_truncated" and text_of(events) == "Half"


def test_data_that_is_not_json_is_a_protocol_error() -> None:
    events, _ = parse_frames(run_bytes(provider("openai-responses"), [sse(created()) + b"data: {oops\n\n"]))
    assert_valid_run(events)
    assert events[-1]["code"] == "upstream_protocol_error"


def test_done_events_supply_what_no_delta_streamed() -> None:
    """Servers that send only the ``.done`` events (or only the finished item) lose nothing."""
    events = events_of(
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1"}},
        {"type": "response.reasoning_summary_text.done", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
         "text": "Thinking."},
        {"type": "response.output_item.added", "output_index": 1,
         "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}},
        {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 1, "content_index": 0,
         "text": "Answer."},
        call_added(2, "fc_1", "call_1", "a"), args_done(2, "fc_1", '{"x":1}'),
        {"type": "response.output_item.done", "output_index": 3,
         "item": {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "b", "arguments": '{"y":2}'}},
        completed(),
    )
    assert reasoning_of(events) == "Thinking."
    assert text_of(events) == "Answer."
    assert tool_calls_of(events) == [("call_1", "a", '{"x":1}'), ("call_2", "b", '{"y":2}')]


def test_done_events_do_not_repeat_what_deltas_streamed() -> None:
    events = events_of(
        created(), *message(0, "msg_1", "Once."),
        call_added(1, "fc_1", "call_1", "a"), args_delta(1, "fc_1", '{"x":1}'), args_done(1, "fc_1", '{"x":1}'),
        {"type": "response.output_item.done", "output_index": 1,
         "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "a", "arguments": '{"x":1}'}},
        completed(),
    )
    assert text_of(events) == "Once."
    assert tool_calls_of(events) == [("call_1", "a", '{"x":1}')]


def summary(item_id: str, index: int, *deltas: str) -> list[dict[str, Any]]:
    return [
        {"type": "response.reasoning_summary_part.added", "item_id": item_id, "output_index": 0,
         "summary_index": index, "part": {"type": "summary_text", "text": ""}},
        *({"type": "response.reasoning_summary_text.delta", "item_id": item_id, "output_index": 0,
           "summary_index": index, "delta": d} for d in deltas),
        {"type": "response.reasoning_summary_text.done", "item_id": item_id, "output_index": 0,
         "summary_index": index, "text": "".join(deltas)},
    ]


def reasoning_item(index: int, item_id: str, encrypted: str | None, *parts: list[dict[str, Any]]
                   ) -> list[dict[str, Any]]:
    done_item: dict[str, Any] = {"type": "reasoning", "id": item_id, "summary": []}
    if encrypted:
        done_item["encrypted_content"] = encrypted
    return [
        {"type": "response.output_item.added", "output_index": index,
         "item": {"type": "reasoning", "id": item_id, "summary": [], "encrypted_content": "early-value"}},
        *(event for part in parts for event in part),
        {"type": "response.output_item.done", "output_index": index, "item": done_item},
    ]


def test_summary_parts_of_one_item_are_one_message_with_a_blank_line_between() -> None:
    events = events_of(
        created(),
        *reasoning_item(0, "rs_1", "gAAAA-final",
                        summary("rs_1", 0, "**Plan**\n\n", "Look it up."), summary("rs_1", 1, "**Check**\n\nSure.")),
        *message(1, "msg_1", "Yes."), completed(),
    )
    assert types(events)[:7] == ["RUN_STARTED", "REASONING_START", "REASONING_MESSAGE_START",
                                 "REASONING_MESSAGE_CONTENT", "REASONING_MESSAGE_CONTENT",
                                 "REASONING_MESSAGE_CONTENT", "REASONING_ENCRYPTED_VALUE"]
    assert reasoning_of(events) == "**Plan**\n\nLook it up.\n\n**Check**\n\nSure."
    value = next(e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE")
    # The value of the finished item (the one in output_item.added is superseded), on its message.
    assert value["encryptedValue"] == "gAAAA-final" and value["subtype"] == "message"
    assert value["entityId"] == events[1]["messageId"]


def test_two_reasoning_items_are_two_messages_each_with_its_value() -> None:
    events = events_of(
        created(),
        *reasoning_item(0, "rs_1", "value-1", summary("rs_1", 0, "First.")),
        *reasoning_item(1, "rs_2", "value-2", summary("rs_2", 0, "Second.")),
        completed(),
    )
    ids = [e["messageId"] for e in events if e["type"] == "REASONING_MESSAGE_START"]
    assert len(ids) == 2 and ids[0] != ids[1]
    values = [(e["entityId"], e["encryptedValue"]) for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]
    assert values == [(ids[0], "value-1"), (ids[1], "value-2")]
    assert reasoning_of(events) == "First.Second."


def test_raw_reasoning_text() -> None:
    events = events_of(
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1"}},
        {"type": "response.reasoning_text.delta", "item_id": "rs_1", "output_index": 0, "content_index": 0,
         "delta": "2+2"},
        {"type": "response.reasoning_text.delta", "item_id": "rs_1", "output_index": 0, "content_index": 0,
         "delta": " is 4."},
        {"type": "response.reasoning_text.done", "item_id": "rs_1", "output_index": 0, "content_index": 0,
         "text": "2+2 is 4."},
        *message(1, "msg_1", "4"), completed(),
    )
    assert reasoning_of(events) == "2+2 is 4." and text_of(events) == "4"


def test_reasoning_off_drops_reasoning_and_its_value() -> None:
    events = events_of(
        created(), *reasoning_item(0, "rs_1", "value-1", summary("rs_1", 0, "Hidden.")),
        *message(1, "msg_1", "Shown."), completed(), reasoning=False,
    )
    assert types(events) == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
                             "RUN_FINISHED"]


def test_encrypted_value_after_the_reasoning_message_closed_still_reaches_the_client() -> None:
    """OpenRouter finishes a reasoning item after the answer text (openrouter-data-only-reasoning-text-done.sse);
    if such an item carries encrypted content, it arrives in a reasoning message of its own."""
    events = events_of(
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1"}},
        {"type": "response.reasoning_text.delta", "item_id": "rs_1", "output_index": 0, "content_index": 0,
         "delta": "Think."},
        *message(1, "msg_1", "Answer."),
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"type": "reasoning", "id": "rs_1", "encrypted_content": "late-value"}},
        completed(),
    )
    assert types(events)[-7:] == ["TEXT_MESSAGE_END", "REASONING_START", "REASONING_MESSAGE_START",
                                  "REASONING_ENCRYPTED_VALUE", "REASONING_MESSAGE_END", "REASONING_END",
                                  "RUN_FINISHED"]
    value = next(e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE")
    assert value["encryptedValue"] == "late-value" and value["entityId"] == events[-5]["messageId"]
    assert reasoning_of(events) == "Think." and text_of(events) == "Answer."
