"""The run state machine keeps every sequence valid; the encoder writes the wire format exactly."""

from __future__ import annotations

import json

from agui_proxy.core import events as ev
from agui_proxy.core.encoder import DONE_FRAME, EventEncoder, to_wire
from agui_proxy.core.run import RunBuilder

from ..support.agui_check import assert_valid_run, parse_frames, types
from ..support.harness import counter_ids


def wire(run: RunBuilder) -> list[dict[str, object]]:
    events, _ = parse_frames(EventEncoder(clock=lambda: 1.5).encode_many(run.take()))
    return events


def test_text_tool_text_gives_two_messages_and_closes_everything() -> None:
    run = RunBuilder("t", "r", id_factory=counter_ids())
    run.text("Hello")
    run.tool_start(0, "call_a", "lookup")
    run.tool_args(0, '{"q":1}')
    run.text("Done")
    run.finish(stop_reason="end_turn", provider_stop_reason="stop")
    events = wire(run)
    assert_valid_run(events)
    assert types(events) == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
                             "TOOL_CALL_START", "TOOL_CALL_ARGS", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT",
                             "TEXT_MESSAGE_END", "TOOL_CALL_END", "RUN_FINISHED"]
    first, second = events[1]["messageId"], events[6]["messageId"]
    assert first != second
    assert events[4]["parentMessageId"] == first
    assert events[-1]["result"] == {"stopReason": "end_turn", "providerStopReason": "stop"}


def test_reasoning_then_text_and_disabled_reasoning() -> None:
    run = RunBuilder("t", "r", id_factory=counter_ids())
    run.reasoning("think")
    run.reasoning_signature("sig")
    run.text("answer")
    run.finish()
    events = wire(run)
    assert_valid_run(events)
    assert types(events) == ["RUN_STARTED", "REASONING_START", "REASONING_MESSAGE_START",
                             "REASONING_MESSAGE_CONTENT", "REASONING_ENCRYPTED_VALUE", "REASONING_MESSAGE_END",
                             "REASONING_END", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
                             "RUN_FINISHED"]
    assert events[4] == {"type": "REASONING_ENCRYPTED_VALUE", "subtype": "message", "entityId": events[1]["messageId"],
                         "encryptedValue": "sig", "timestamp": 1500}
    quiet = RunBuilder("t", "r", reasoning=False)
    quiet.reasoning("think")
    quiet.text("answer")
    quiet.finish()
    assert "REASONING_START" not in types(wire(quiet))


def test_parallel_tools_duplicate_ids_and_argless_calls() -> None:
    run = RunBuilder("t", "r", id_factory=counter_ids())
    a = run.tool_start(0, "0", "first")
    b = run.tool_start(1, "0", "second")  # a server that numbers every call "0"
    run.tool_args(1, '{"x":2}')
    run.tool_end(0)
    run.tool_end(1)
    run.tool_start(2, None, "generated")
    run.finish()
    events = wire(run)
    assert_valid_run(events)
    assert a == "0" and b != a
    argless = [e for e in events if e["type"] == "TOOL_CALL_ARGS" and e["toolCallId"] == a]
    assert [e["delta"] for e in argless] == ["{}"]
    starts = [e for e in events if e["type"] == "TOOL_CALL_START"]
    assert [s["toolCallId"] for s in starts] == ["0", "0_1", "call_2"]
    assert len({s["parentMessageId"] for s in starts}) == 1


def test_fail_closes_open_things_and_nothing_follows() -> None:
    run = RunBuilder("t", "r", id_factory=counter_ids())
    run.text("partial")
    run.tool_start(0, "c", "f")
    run.fail("upstream went away", "upstream_truncated")
    run.text("ignored")
    run.finish()
    events = wire(run)
    assert_valid_run(events)
    assert types(events) == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
                             "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "RUN_ERROR"]
    assert events[-1] == {"type": "RUN_ERROR", "message": "upstream went away", "code": "upstream_truncated",
                          "timestamp": 1500}


def test_frames_are_lf_only_one_line_compact_json_without_nulls() -> None:
    encoder = EventEncoder(clock=lambda: 1.2345)
    frame = encoder.encode(ev.TextMessageContent("m1", 'line1\nline2 "quoted" \u2028 é 😀'))
    assert frame.startswith(b"data: {") and frame.endswith(b"}\n\n") and frame.count(b"\n") == 2
    assert json.loads(frame[6:]) == {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1",
                                     "delta": 'line1\nline2 "quoted" \u2028 é 😀', "timestamp": 1234}
    start = encoder.encode(ev.ToolCallStart("c1", "f"))
    assert b"parentMessageId" not in start and b"null" not in start
    usage = ev.RunFinished("t", "r", None, (ev.TokenUsage(provider="p", input_tokens=3),))
    assert to_wire(usage) == {"type": "RUN_FINISHED", "threadId": "t", "runId": "r",
                              "usage": [{"provider": "p", "inputTokens": 3}]}
    assert DONE_FRAME == b"data: [DONE]\n\n"


def test_event_lines_and_lone_surrogates() -> None:
    encoder = EventEncoder(event_lines=True, clock=lambda: 2.0)
    frame = encoder.encode(ev.TextMessageEnd("m"))
    assert frame == b'event: TEXT_MESSAGE_END\ndata: {"type":"TEXT_MESSAGE_END","messageId":"m","timestamp":2000}\n\n'
    odd = EventEncoder(clock=lambda: 2.0).encode(ev.TextMessageContent("m", "a\ud83db"))
    assert json.loads(odd[6:])["delta"] == "a\ud83db"


def test_each_encrypted_value_has_its_own_reasoning_message() -> None:
    """``@ag-ui/client`` keeps one ``encryptedValue`` per message: a second value for the open
    reasoning message (OpenRouter's signed text, then a ``reasoning.encrypted`` detail) would
    replace the first, so it opens a message of its own; the provider's item id names a message."""
    run = RunBuilder("t", "r", id_factory=counter_ids())
    run.reasoning("think", item_id="rs_1")
    run.reasoning_signature("SIG")
    run.reasoning_signature("DATA")
    run.tool_start(0, "call_1", "f")
    run.finish()
    events = wire(run)
    assert_valid_run(events)
    values = [(e["entityId"], e["encryptedValue"]) for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]
    assert values == [("rs_1", "SIG"), ("rsn_1", "DATA")]
    started = [e["messageId"] for e in events if e["type"] == "REASONING_MESSAGE_START"]
    assert started == ["rs_1", "rsn_1"]
    # The call after the reasoning hangs off a new assistant message, after the reasoning.
    call = next(e for e in events if e["type"] == "TOOL_CALL_START")
    assert call["parentMessageId"] == "msg_2"
