"""Checks every AG-UI event the proxy emits against others' code and rules.

- Each event is validated by the official ``ag-ui-protocol`` pydantic models, strictly: JSON-mode
  strict validation, no unknown fields, no ``null`` anywhere, canonical camelCase keys (the
  model's own serialisation gives back exactly the object), an integer timestamp.
- ``RUN_STARTED`` declares the protocol version the models were generated from
  (``ag_ui.core.PROTOCOL_VERSION``: the AG-UI 1.0 spec says a producer must), and
  ``RUN_FINISHED`` echoes the ``threadId`` / ``runId`` that ``RUN_STARTED`` opened.
- A run's sequence obeys the ordering rules the official client enforces (``verifyEvents``,
  PROTOCOL.md section 2).
"""

from __future__ import annotations

import json
from typing import Any

from ag_ui.core import PROTOCOL_VERSION
from ag_ui.core import events as agui
from pydantic import BaseModel

MODELS: dict[str, type[BaseModel]] = {
    "RUN_STARTED": agui.RunStartedEvent,
    "RUN_FINISHED": agui.RunFinishedEvent,
    "RUN_ERROR": agui.RunErrorEvent,
    "TEXT_MESSAGE_START": agui.TextMessageStartEvent,
    "TEXT_MESSAGE_CONTENT": agui.TextMessageContentEvent,
    "TEXT_MESSAGE_END": agui.TextMessageEndEvent,
    "TOOL_CALL_START": agui.ToolCallStartEvent,
    "TOOL_CALL_ARGS": agui.ToolCallArgsEvent,
    "TOOL_CALL_END": agui.ToolCallEndEvent,
    "REASONING_START": agui.ReasoningStartEvent,
    "REASONING_MESSAGE_START": agui.ReasoningMessageStartEvent,
    "REASONING_MESSAGE_CONTENT": agui.ReasoningMessageContentEvent,
    "REASONING_MESSAGE_END": agui.ReasoningMessageEndEvent,
    "REASONING_END": agui.ReasoningEndEvent,
    "REASONING_ENCRYPTED_VALUE": agui.ReasoningEncryptedValueEvent,
}


def _no_nulls(value: Any, path: str) -> None:
    if value is None:
        raise AssertionError(f"{path} is null")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_nulls(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_nulls(v, f"{path}[{i}]")


def validate_event(event: dict[str, Any]) -> BaseModel:
    """Validate one wire event (already parsed from its ``data:`` line) with the official models."""
    kind = event.get("type")
    assert kind in MODELS, f"unknown event type {kind!r}"
    _no_nulls(event, kind)
    assert isinstance(event.get("timestamp"), int), f"{kind}: timestamp must be an integer: {event}"
    model = MODELS[kind].model_validate_json(json.dumps(event), strict=True)
    assert not model.model_extra, f"{kind}: unknown fields {sorted(model.model_extra)}"
    again = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert again == event, f"{kind}: not canonical camelCase: sent {event}, models give {again}"
    return model


def assert_valid_run(events: list[dict[str, Any]]) -> None:
    """Every event valid, and the sequence one the official client accepts."""
    assert events, "no events"
    for event in events:
        validate_event(event)
    assert events[0]["type"] == "RUN_STARTED", f"first event is {events[0]['type']}"
    started = events[0]
    assert started.get("protocolVersion") == PROTOCOL_VERSION, (
        f"RUN_STARTED must declare protocolVersion {PROTOCOL_VERSION!r}: {started}")
    assert events[-1]["type"] in ("RUN_FINISHED", "RUN_ERROR"), f"last event is {events[-1]['type']}"
    open_text: set[str] = set()
    open_tools: set[str] = set()
    open_reasoning_msgs: set[str] = set()
    open_reasoning: set[str] = set()
    for i, event in enumerate(events):
        kind = event["type"]
        where = f"event {i} ({kind})"
        if kind in ("RUN_STARTED",):
            assert i == 0, f"{where}: RUN_STARTED after the start"
        elif kind == "TEXT_MESSAGE_START":
            assert event["messageId"] not in open_text, f"{where}: message already open"
            open_text.add(event["messageId"])
        elif kind in ("TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END"):
            assert event["messageId"] in open_text, f"{where}: message not open"
            if kind == "TEXT_MESSAGE_CONTENT":
                assert event["delta"] != "", f"{where}: empty delta"
            else:
                open_text.discard(event["messageId"])
        elif kind == "TOOL_CALL_START":
            assert event["toolCallId"] not in open_tools, f"{where}: tool call already open"
            open_tools.add(event["toolCallId"])
        elif kind in ("TOOL_CALL_ARGS", "TOOL_CALL_END"):
            assert event["toolCallId"] in open_tools, f"{where}: tool call not open"
            if kind == "TOOL_CALL_END":
                open_tools.discard(event["toolCallId"])
        elif kind == "REASONING_START":
            assert event["messageId"] not in open_reasoning, f"{where}: reasoning already open"
            open_reasoning.add(event["messageId"])
        elif kind == "REASONING_MESSAGE_START":
            assert event["messageId"] not in open_reasoning_msgs, f"{where}: reasoning message already open"
            open_reasoning_msgs.add(event["messageId"])
        elif kind in ("REASONING_MESSAGE_CONTENT", "REASONING_MESSAGE_END"):
            assert event["messageId"] in open_reasoning_msgs, f"{where}: reasoning message not open"
            if kind == "REASONING_MESSAGE_END":
                open_reasoning_msgs.discard(event["messageId"])
        elif kind == "REASONING_END":
            assert event["messageId"] in open_reasoning, f"{where}: reasoning not open"
            assert event["messageId"] not in open_reasoning_msgs, f"{where}: its message is still open"
            open_reasoning.discard(event["messageId"])
        elif kind in ("RUN_FINISHED", "RUN_ERROR"):
            assert i == len(events) - 1, f"{where}: events after the end of the run"
            if kind == "RUN_FINISHED":
                assert (event["threadId"], event["runId"]) == (started["threadId"], started["runId"]), (
                    f"{where}: ids differ from RUN_STARTED's: {event} vs {started}")
                assert not (open_text or open_tools or open_reasoning or open_reasoning_msgs), (
                    f"{where}: still open: {open_text | open_tools | open_reasoning | open_reasoning_msgs}")


PING = ": ping"  # the keep-alive comment frame (docs/reliability.md)


def parse_frames(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """Split a proxy response into its events; also says whether it ended with ``data: [DONE]``.

    Fails on anything but LF-only ``data: <one-line JSON>\\n\\n`` frames (the official client
    splits on ``\\n\\n`` and parses each ``data:`` line as JSON), and the proxy's keep-alive
    comment ``: ping\\n\\n``, which clients skip (a frame without a ``data:`` line).
    """
    text = body.decode("utf-8")
    assert "\r" not in text, "CR in the output stream"
    assert text.endswith("\n\n"), "the stream does not end with a blank line"
    events: list[dict[str, Any]] = []
    done = False
    for frame in text[:-2].split("\n\n"):
        assert not done, "frames after data: [DONE]"
        if frame == PING:
            continue
        lines = frame.split("\n")
        data_lines = [line for line in lines if line.startswith("data: ")]
        assert len(data_lines) == 1 and all(
            line.startswith(("data: ", "event: ")) for line in lines), f"bad frame {frame!r}"
        payload = data_lines[0][6:]
        if payload == "[DONE]":
            done = True
            continue
        event = json.loads(payload)
        events.append(event)
        for line in lines:
            if line.startswith("event: "):
                assert line[7:] == event["type"], f"event line {line!r} does not match {event['type']}"
    return events, done


def types(events: list[dict[str, Any]]) -> list[str]:
    """The events' types, in order."""
    return [e["type"] for e in events]


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")


def reasoning_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "REASONING_MESSAGE_CONTENT")


def tool_calls_of(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(toolCallId, name, arguments JSON text)`` per call, in start order."""
    names: dict[str, str] = {}
    args: dict[str, list[str]] = {}
    for e in events:
        if e["type"] == "TOOL_CALL_START":
            names[e["toolCallId"]] = e["toolCallName"]
            args[e["toolCallId"]] = []
        elif e["type"] == "TOOL_CALL_ARGS":
            args[e["toolCallId"]].append(e["delta"])
    return [(cid, names[cid], "".join(args[cid])) for cid in names]
