"""The AG-UI event encoder: events in, ``data: <json>\\n\\n`` frames out (PROTOCOL.md section 2).

Rules the official client enforces: LF only (it splits frames on ``\\n\\n``), one line of compact
JSON per frame, camelCase keys, an integer ``timestamp`` in milliseconds, optional fields left
out rather than ``null``.  ``data: [DONE]`` is written only for clients that expect it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import fields
from json.encoder import encode_basestring
from typing import Any

from . import events as ev

DONE_FRAME = b"data: [DONE]\n\n"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


# Per event class: (attribute, wire key) pairs, computed once.
_WIRE_KEYS: dict[type, tuple[tuple[str, str], ...]] = {
    cls: tuple((f.name, _camel(f.name)) for f in fields(cls))
    for cls in (
        ev.TokenUsage, ev.RunStarted, ev.RunFinished, ev.RunError, ev.TextMessageStart,
        ev.TextMessageContent, ev.TextMessageEnd, ev.ToolCallStart, ev.ToolCallArgs, ev.ToolCallEnd,
        ev.ToolCallResult, ev.Custom, ev.StepStarted, ev.StepFinished,
        ev.ReasoningStart, ev.ReasoningMessageStart, ev.ReasoningMessageContent, ev.ReasoningMessageEnd,
        ev.ReasoningEnd, ev.ReasoningEncryptedValue,
    )
}

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _plain(value: Any) -> Any:
    if type(value) in _WIRE_KEYS:
        return {key: _plain(v) for name, key in _WIRE_KEYS[type(value)] if (v := getattr(value, name)) is not None}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def to_wire(event: ev.Event, timestamp: int | None = None) -> dict[str, Any]:
    """The JSON object of one event, as the client receives it."""
    wire: dict[str, Any] = {"type": event.type}
    wire.update(_plain(event))
    if timestamp is not None:
        wire["timestamp"] = timestamp
    return wire


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate (an upstream sent "\\ud83d" without its pair) cannot be UTF-8.  It
        # can only sit inside a JSON string, where its backslash form is a valid JSON escape.
        return text.encode("utf-8", "backslashreplace")


class EventEncoder:
    """Encodes events into SSE frames.

    ``event_lines`` adds an ``event: <TYPE>`` line before each ``data:`` line, for clients that
    dispatch on the SSE event name.  ``clock`` returns seconds (``time.time``); tests pin it.
    """

    def __init__(self, *, event_lines: bool = False, clock: Callable[[], float] = time.time) -> None:
        self._event_lines = event_lines
        self._clock = clock

    def encode(self, event: ev.Event) -> bytes:
        return _utf8(self._frame(event, int(self._clock() * 1000)))

    def encode_many(self, events: Iterable[ev.Event]) -> bytes:
        """Several frames in one buffer, so the shell can hand them to one ``send``."""
        now = int(self._clock() * 1000)
        return _utf8("".join([self._frame(e, now) for e in events]))

    def _frame(self, event: ev.Event, now: int) -> str:
        # The deltas are nearly every frame of a stream: format them directly instead of
        # building a dict per token.
        cls = type(event)
        if cls is ev.TextMessageContent or cls is ev.ReasoningMessageContent:
            body = (f'{{"type":"{event.type}","messageId":{encode_basestring(event.message_id)},'  # type: ignore[union-attr]
                    f'"delta":{encode_basestring(event.delta)},"timestamp":{now}}}')  # type: ignore[union-attr]
        elif cls is ev.ToolCallArgs:
            body = (f'{{"type":"TOOL_CALL_ARGS","toolCallId":{encode_basestring(event.tool_call_id)},'  # type: ignore[union-attr]
                    f'"delta":{encode_basestring(event.delta)},"timestamp":{now}}}')  # type: ignore[union-attr]
        else:
            body = _dumps(to_wire(event, now))
        if self._event_lines:
            return f"event: {event.type}\ndata: {body}\n\n"
        return f"data: {body}\n\n"
