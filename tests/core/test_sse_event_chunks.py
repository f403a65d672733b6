"""The decoder fed one event per chunk, as providers that write each event on its own send them
(the decoder's fast path), gives what the reference reading of the spec gives, whatever came
before the chunk: a pending field, a pending CR, a BOM, a cap."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agui_proxy.core.sse import SSEDecoder, SSEEvent
from agui_proxy.errors import UpstreamProtocolError

from .test_sse import decode, reference

line_ends = st.sampled_from([b"\n", b"\r\n", b"\r"])
pieces = st.one_of(
    st.builds(lambda v: b"data: " + v + b"\n\n", st.binary(max_size=12).filter(lambda b: b"\n" not in b
                                                                                and b"\r" not in b)),
    st.builds(lambda v, e: b"event: " + v + e, st.sampled_from([b"x", b"ping", b""]), line_ends),
    st.builds(lambda e: b": comment" + e, line_ends),
    st.sampled_from([b"data: a\r", b"\n", b"\r\n", b"data:b\n", b"\xef\xbb\xbf", b"data: \xff\n\n",
                     b"data: x\n\ndata: y\n\n"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(pieces, max_size=8))
def test_event_sized_chunks_read_as_the_whole_stream(chunks: list[bytes]) -> None:
    raw = b"".join(chunks)
    assert decode(chunks) == reference(raw)
    assert decode(chunks) == decode([raw])


def test_a_pending_event_name_applies_to_the_next_single_event_chunk() -> None:
    assert decode([b"event: delta\n", b"data: x\n\n"])[0] == [SSEEvent("x", "delta")]


def test_a_pending_cr_is_one_line_break_with_the_next_lf() -> None:
    assert decode([b"data: a\r", b"\n\n", b"data: b\n\n"])[0] == [SSEEvent("a"), SSEEvent("b")]


@pytest.mark.parametrize("size", [9, 10, 11])
def test_the_cap_holds_for_single_event_chunks(size: int) -> None:
    decoder = SSEDecoder(max_event_size=size)
    chunk = b"data: 1234\n\n"  # one data line of 10 bytes
    if size < 10:
        with pytest.raises(UpstreamProtocolError):
            decoder.feed(chunk)
    else:
        assert decoder.feed(chunk) == [SSEEvent("1234")]
