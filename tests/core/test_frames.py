"""Frames one by one for resumable runs (core/frames.py)."""

from __future__ import annotations

from agui_proxy.core.encoder import EventEncoder
from agui_proxy.core.events import RunStarted, TextMessageContent
from agui_proxy.core.frames import split_frames, with_id


def test_split_gives_back_each_frame_whole() -> None:
    encoder = EventEncoder(clock=lambda: 1.0)
    events = [RunStarted("t", "r"), TextMessageContent("m", "a\n\nb"), TextMessageContent("m", "\r\n")]
    frames = split_frames(encoder.encode_many(events))
    assert frames == [encoder.encode(e) for e in events]
    assert split_frames(b"") == []


def test_split_with_event_lines() -> None:
    encoder = EventEncoder(event_lines=True, clock=lambda: 1.0)
    events = [RunStarted("t", "r"), TextMessageContent("m", "x")]
    assert split_frames(encoder.encode_many(events)) == [encoder.encode(e) for e in events]


def test_an_id_line_comes_first() -> None:
    assert with_id(7, b"data: {}\n\n") == b"id: 7\ndata: {}\n\n"
