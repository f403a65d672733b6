"""Tests of the incremental SSE decoder: each rule, every recording at every split, properties."""

from __future__ import annotations

import functools
import itertools
import json
import operator
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agui_proxy.core.sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder, SSEEvent
from agui_proxy.errors import UpstreamProtocolError
from tests.support import recordings

BOM = b"\xef\xbb\xbf"


def decode(
    chunks: Iterable[bytes], max_event_size: int = DEFAULT_MAX_EVENT_SIZE
) -> tuple[list[SSEEvent], bool]:
    """Feed every chunk then close; the events and ``truncated``."""
    decoder = SSEDecoder(max_event_size)
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return events, decoder.truncated


def events_of(raw: bytes) -> list[SSEEvent]:
    return decode([raw])[0]


def byte_by_byte(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


def split_at(raw: bytes, offsets: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(offsets), len(raw)]
    return [raw[a:b] for a, b in itertools.pairwise(bounds)]


def reference(raw: bytes) -> tuple[list[SSEEvent], bool]:
    """A slow, literal reading of WHATWG 9.2.6 (decode the whole text first, then split it into
    lines), plus the EOF rule of SSEDecoder.close().  An independent oracle for the properties."""
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
    *lines, tail = re.split(r"\r\n|\r|\n", text)
    events: list[SSEEvent] = []
    data, event, dirty, truncated = "", "", False, False
    for line in [*lines, None, tail, ""]:
        if line is None:  # end of input: is anything left pending?
            truncated = bool(tail) or dirty
        elif line == "":
            if data:
                events.append(SSEEvent(data[:-1], event))
            data, event, dirty = "", "", False
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            dirty = True
            if name == "data":
                data += value + "\n"
            elif name == "event":
                event = value
    return events, truncated


# --- line endings --------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_each_line_ending(eol: bytes) -> None:
    raw = eol.join([b"event: a", b"data: 1", b"data: 2", b"", b"data: 3", b"", b""])
    assert decode([raw]) == ([SSEEvent("1\n2", "a"), SSEEvent("3")], False)
    assert decode(byte_by_byte(raw)) == ([SSEEvent("1\n2", "a"), SSEEvent("3")], False)


def test_mixed_line_endings() -> None:
    assert events_of(b"data: a\rdata: b\r\ndata: c\n\r\n") == [SSEEvent("a\nb\nc")]


def test_cr_and_lf_split_across_chunks_are_one_line_break() -> None:
    # Were the CR and the LF two line breaks, the blank line would dispatch "a" on its own.
    assert decode([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == ([SSEEvent("a\nb")], False)


def test_cr_then_cr_across_chunks_is_a_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [SSEEvent("a")]


def test_empty_chunk_keeps_a_pending_cr() -> None:
    assert decode([b"data: a\r", b"", b"\ndata: b\n\n"])[0] == [SSEEvent("a\nb")]


@pytest.mark.parametrize("char", ["\x1c", "\x1d", "\x1e", "\x85", "\x0b", "\x0c", "\u2028", "\u2029"])
def test_only_cr_and_lf_end_lines(char: str) -> None:
    # str.splitlines() would split on each of these.
    assert events_of(f"data: a{char}b\n\n".encode()) == [SSEEvent(f"a{char}b")]


# --- fields --------------------------------------------------------------------------------------


def test_multi_line_data_is_joined_with_lf() -> None:
    assert events_of(b'data: {\ndata: "a": 1\ndata: }\n\n') == [SSEEvent('{\n"a": 1\n}')]


@pytest.mark.parametrize(
    ("line", "data"),
    [
        (b"data:x", "x"),
        (b"data: x", "x"),
        (b"data:  x", " x"),
        (b"data: x ", "x "),
        (b"data: a:b: c", "a:b: c"),
        (b"data::", ":"),
    ],
)
def test_one_leading_space_is_dropped(line: bytes, data: str) -> None:
    assert events_of(line + b"\n\n") == [SSEEvent(data)]


@pytest.mark.parametrize(
    ("line", "event"), [(b"event:x", "x"), (b"event: x", "x"), (b"event:  x", " x"), (b"event: ", "")]
)
def test_one_leading_space_is_dropped_from_the_event_name(line: bytes, event: str) -> None:
    assert events_of(line + b"\ndata: d\n\n") == [SSEEvent("d", event)]


def test_field_without_colon_has_empty_value() -> None:
    assert events_of(b"data\ndata\n\n") == [SSEEvent("\n")]
    assert events_of(b"event\ndata: x\n\n") == [SSEEvent("x", "")]


def test_empty_data_line_still_dispatches() -> None:
    # Spec: "data:" appends "" + LF to the buffer, which is then non-empty.
    assert events_of(b"data:\n\n") == [SSEEvent("")]
    assert events_of(b"data\n\n") == [SSEEvent("")]


def test_event_without_data_is_not_dispatched() -> None:
    assert events_of(b"event: ping\n\nid: 1\nretry: 5\n\n\n\n") == []


def test_event_name_last_wins_and_resets_after_dispatch() -> None:
    raw = b"event: a\nevent: b\ndata: 1\n\ndata: 2\n\n"
    assert events_of(raw) == [SSEEvent("1", "b"), SSEEvent("2", "")]


def test_event_name_resets_even_when_nothing_is_dispatched() -> None:
    assert events_of(b"event: lost\n\ndata: x\n\n") == [SSEEvent("x", "")]


def test_event_name_before_or_after_data() -> None:
    assert events_of(b"data: x\nevent: late\n\n") == [SSEEvent("x", "late")]


def test_id_retry_and_unknown_fields_are_ignored() -> None:
    raw = b"id: 7\nretry: 1000\nfoo: bar\nData: no\ndata : no\n data: no\ndata: yes\n\n"
    assert events_of(raw) == [SSEEvent("yes")]


def test_comments_are_discarded() -> None:
    raw = b": OPENROUTER PROCESSING\n:\n:data: no\ndata: a\n: between\ndata: b\n\n: keep-alive\n\n"
    assert decode([raw]) == ([SSEEvent("a\nb")], False)


def test_blank_lines_alone_dispatch_nothing() -> None:
    assert decode([b"\n\r\n\r\n\n"]) == ([], False)


# --- BOM and UTF-8 -------------------------------------------------------------------------------


def test_leading_bom_is_dropped() -> None:
    assert events_of(BOM + b"data: x\n\n") == [SSEEvent("x")]


@pytest.mark.parametrize("cut", [[1], [2], [1, 2], [3], [1, 4], [2, 3]])
def test_leading_bom_split_across_chunks(cut: list[int]) -> None:
    raw = BOM + b"data: x\n\n"
    assert decode(split_at(raw, cut)) == ([SSEEvent("x")], False)


def test_only_one_bom_is_dropped() -> None:
    # The second BOM becomes part of the field name "\ufeffdata", an unknown field.
    assert events_of(BOM + BOM + b"data: x\n\ndata: y\n\n") == [SSEEvent("y")]


def test_bom_later_in_the_stream_is_content() -> None:
    assert events_of(b"data: \xef\xbb\xbfx\n\n") == [SSEEvent("\ufeffx")]
    assert events_of(b"data: a\n\n" + BOM + b"data: b\n\n") == [SSEEvent("a")]


def test_partial_bom_prefix_is_content() -> None:
    assert decode([b"\xef", b"\xbbdata: x\n\n"]) == ([], False)  # "\ufffddata" is an unknown field
    assert decode([b"\xef\xbb"]) == ([], True)


@pytest.mark.parametrize("cut", range(1, 11))
def test_four_byte_character_split_at_each_byte(cut: int) -> None:
    raw = "data: 😀\n\n".encode()
    assert raw[6:10] == "😀".encode()
    assert decode([raw[:cut], raw[cut:]]) == ([SSEEvent("😀")], False)


def test_multibyte_event_name_split() -> None:
    raw = "event: né😀\ndata: ok\n\n".encode()
    assert decode(byte_by_byte(raw))[0] == [SSEEvent("ok", "né😀")]


@pytest.mark.parametrize(
    ("raw", "data"),
    [
        (b"data: \xff\xfe\n\n", "\ufffd\ufffd"),
        (b"data: a\xf0\x9f\n\n", "a\ufffd"),  # a 4-byte sequence cut short by the line end
        (b"data: \xf0\x9f\ndata: \x98\x80\n\n", "\ufffd\n\ufffd\ufffd"),
        (b"data: \xed\xa0\x80\n\n", "\ufffd\ufffd\ufffd"),  # an encoded surrogate
    ],
)
def test_invalid_utf8_becomes_replacement_characters(raw: bytes, data: str) -> None:
    assert events_of(raw) == [SSEEvent(data)]
    assert decode(byte_by_byte(raw))[0] == [SSEEvent(data)]


def test_invalid_utf8_in_event_name() -> None:
    assert events_of(b"event: \xc3\ndata: x\n\n") == [SSEEvent("x", "\ufffd")]


# --- the size cap --------------------------------------------------------------------------------


def test_default_cap() -> None:
    assert DEFAULT_MAX_EVENT_SIZE == 8 * 1024 * 1024


def test_cap_on_one_huge_line_fed_in_pieces() -> None:
    decoder = SSEDecoder(max_event_size=100)
    assert decoder.feed(b"data: " + b"x" * 94) == []  # exactly 100 bytes pending: allowed
    with pytest.raises(UpstreamProtocolError, match="upstream event larger than 100 bytes") as info:
        decoder.feed(b"x")
    assert info.value.code == "upstream_protocol_error"


def test_cap_on_one_huge_line_fed_whole() -> None:
    with pytest.raises(UpstreamProtocolError, match="larger than 100 bytes"):
        SSEDecoder(100).feed(b"data: " + b"x" * 200 + b"\n\n")


def test_cap_on_many_data_lines() -> None:
    decoder = SSEDecoder(max_event_size=1000)
    for _ in range(99):
        assert decoder.feed(b"data: 1234\n") == []  # 10 raw bytes each, 990 so far
    with pytest.raises(UpstreamProtocolError, match="larger than 1000 bytes"):
        decoder.feed(b"data: 12345\n")


def test_cap_is_per_event() -> None:
    decoder = SSEDecoder(max_event_size=64)
    for _ in range(1000):
        assert decoder.feed(b"data: " + b"y" * 50 + b"\n\n") == [SSEEvent("y" * 50)]


def test_cap_on_a_comment_line_never_ended() -> None:
    decoder = SSEDecoder(max_event_size=100)
    with pytest.raises(UpstreamProtocolError):
        for _ in range(101):
            decoder.feed(b":")


def test_cap_on_a_line_ended_only_by_close() -> None:
    decoder = SSEDecoder(max_event_size=10)
    decoder.feed(b"data: 1234")
    with pytest.raises(UpstreamProtocolError):
        decoder.feed(b"5")
    with pytest.raises(RuntimeError):
        decoder.feed(b"\n\n")


# --- close() and truncated -----------------------------------------------------------------------


def test_close_after_a_complete_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\n\n: trailing comment\n") == [SSEEvent("x")]
    assert decoder.truncated is False
    assert decoder.close() == []
    assert decoder.truncated is False


def test_close_of_an_empty_stream() -> None:
    assert decode([]) == ([], False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"data: x", [SSEEvent("x")]),  # the recorded case: last line, no line end
        (b"data: x\n", [SSEEvent("x")]),
        (b"data: x\r", [SSEEvent("x")]),
        (b"event: e\ndata: x\ndata: y", [SSEEvent("x\ny", "e")]),
        (b"data: a\n\nevent: e", []),
        (b"data: a\n\nevent: e\n", []),
        (b"data: a\n\nid: 3\n", []),
        (b"data: a\n\n: unterminated comment", []),
        (b"data: a\n\ndat", []),
    ],
)
def test_close_with_something_pending(raw: bytes, expected: list[SSEEvent]) -> None:
    prefix = [SSEEvent("a")] if raw.startswith(b"data: a\n\n") else []
    assert decode([raw]) == (prefix + expected, True)
    assert decode(byte_by_byte(raw)) == (prefix + expected, True)


def test_close_twice_and_feed_after_close() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: x")
    assert decoder.close() == [SSEEvent("x")]
    assert decoder.close() == []
    assert decoder.truncated is True
    with pytest.raises(RuntimeError):
        decoder.feed(b"data: y\n\n")


# --- the recorded provider streams ---------------------------------------------------------------


_key = operator.attrgetter("data", "event")


@functools.cache
def manifest() -> dict[str, dict[str, Any]]:
    files = json.loads((recordings.STREAMS / "manifest.json").read_text())["files"]
    return {entry["file"]: entry for entry in files}


@pytest.mark.parametrize("path", recordings.recording_params())
def test_recording_any_split_gives_the_same_events(path: Path) -> None:
    raw = path.read_bytes()
    whole = decode([raw])
    assert whole[0]
    assert decode(byte_by_byte(raw)) == whole
    for size in (2, 3, 7, 64, 4096):
        assert decode([raw[i : i + size] for i in range(0, len(raw), size)]) == whole
    # The quadratic part of the file: compare (data, event) tuples, C-level and cheaper than
    # the dataclass __eq__.
    expected = (list(map(_key, whole[0])), whole[1])
    for offset in recordings.split_offsets(len(raw)):
        decoder = SSEDecoder()
        events = decoder.feed(raw[:offset]) + decoder.feed(raw[offset:]) + decoder.close()
        assert (list(map(_key, events)), decoder.truncated) == expected, f"split at {offset}"


@pytest.mark.parametrize("path", recordings.recording_params())
def test_recording_matches_the_manifest(path: Path) -> None:
    entry = manifest()[f"{path.parent.name}/{path.name}"]
    raw = path.read_bytes()
    decoder = SSEDecoder()
    dispatched = decoder.feed(raw)
    at_eof = decoder.close()
    # The manifest counts a WHATWG parse, which dispatches on blank lines only: exactly what
    # feed() returns.  close() may add the unterminated last event the spec would discard.
    assert len(dispatched) == entry["sse_events_with_data"]
    if entry["ends_with_blank_line"]:
        assert (at_eof, decoder.truncated) == ([], False)
    else:
        # anthropic/text-then-tool-use-max-tokens-mid-json.sse ends in `data: {...}`, no newline.
        assert decoder.truncated is True
        assert [event.event for event in at_eof] == ["message_stop"]
        assert json.loads(at_eof[0].data)["type"] == "message_stop"
    events = dispatched + at_eof
    assert any(event.data == "[DONE]" for event in events) == entry["has_done_sentinel"]
    assert any(not event.data.isascii() for event in events) == entry["non_ascii"]
    for event in events:
        assert "\ufffd" not in event.data and "\r" not in event.data
        if event.data != "[DONE]":
            json.loads(event.data)  # what a wrongly split or stripped line would break


# --- properties ----------------------------------------------------------------------------------

_text = st.one_of(
    st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=12),
    st.sampled_from(["", " ", ":", " x", '{"a": 1}', "\x1c", "\u2028", "\x85", "😀", "é", "\ufeff"]),
)
_field = st.tuples(
    # Weighted towards the fields that matter; "" makes a comment, the others are ignored.
    st.sampled_from(["data", "data", "data", "event", "event", "id", "retry", "foo", "dat", "Data", ""]),
    st.sampled_from([":", ": ", ": ", ":  ", ""]),
    _text,
).map("".join)
_comment = _text.map(lambda s: ":" + s)
# An event's lines, mostly closed by a blank line (sometimes two, sometimes none).
_event = st.tuples(
    st.lists(st.one_of(_field, _field, _field, _comment), min_size=1, max_size=5),
    st.sampled_from([[""], [""], [""], ["", ""], []]),
).map(lambda t: [*t[0], *t[1]])
_eol = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def sse_streams(draw: st.DrawFn) -> bytes:
    """SSE-ish streams: events of fields and comments with mixed line ends (a CR then a blank
    line ended by LF is one CRLF, as on the wire), a BOM maybe, maybe an unterminated last line."""
    lines = [line for event in draw(st.lists(_event, max_size=8)) for line in event]
    text = "".join(line + draw(_eol) for line in lines)
    if draw(st.booleans()):
        text += draw(_field)
    raw = text.encode()
    return (BOM + raw) if draw(st.booleans()) else raw


@st.composite
def chunked(draw: st.DrawFn, raw: bytes) -> list[bytes]:
    offsets = draw(st.lists(st.integers(0, len(raw)), max_size=12))
    return split_at(raw, offsets)


_SSE_TOKENS = [b"data: ", b"data:", b"data", b"event: ", b":", b" ", b"x", b"\r", b"\n", b"\n\n", b"\r\n"]
_ODD_BYTES = [BOM, b"\xf0\x9f", b"\x98\x80", b"\xff", b"\xc3", b"\xed\xa0\x80"]  # parts, invalid UTF-8
_bytes = st.one_of(
    st.binary(max_size=200),
    # bytes likelier to make lines and events, valid or not
    st.lists(st.sampled_from([*_SSE_TOKENS, *_ODD_BYTES]), max_size=60).map(b"".join),
)

_settings = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(st.data(), sse_streams())
def test_property_any_split_same_events(data: st.DataObject, raw: bytes) -> None:
    chunks = data.draw(chunked(raw))
    assert decode(chunks) == decode([raw]) == reference(raw)


@_settings
@given(st.data(), _bytes, st.sampled_from([DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_EVENT_SIZE, 16, 64]))
def test_property_arbitrary_bytes_only_raise_the_protocol_error(
    data: st.DataObject, raw: bytes, cap: int
) -> None:
    try:
        result = decode(data.draw(chunked(raw)), cap)
    except UpstreamProtocolError:
        return
    if cap == DEFAULT_MAX_EVENT_SIZE:
        assert result == reference(raw)


@_settings
@given(st.data(), sse_streams())
def test_property_cap_holds(data: st.DataObject, raw: bytes) -> None:
    cap = data.draw(st.integers(1, max(1, len(raw))), label="max_event_size")
    decoder = SSEDecoder(cap)
    events: list[SSEEvent] = []
    raised = False
    try:
        for chunk in data.draw(chunked(raw)):
            events += decoder.feed(chunk)
        events += decoder.close()
    except UpstreamProtocolError:
        raised = True
    for event in events:
        assert len(event.data.encode()) <= cap
    # Whether the cap trips does not depend on the chunking, and until it does the events are
    # the uncapped ones.
    try:
        decode([raw], cap)
    except UpstreamProtocolError:
        assert raised
    else:
        assert not raised
    assert events == reference(raw)[0][: len(events)]
