"""The AWS event-stream decoder: messages built to the spec, and the same bytes read by botocore's
own decoder (botocore.eventstream), fed whole, byte by byte and split at every offset."""

from __future__ import annotations

import itertools
import random
import struct
import uuid
import zlib
from collections.abc import Iterable
from typing import Any

import pytest

from agui_proxy.core.eventstream import MAX_HEADERS_LENGTH, EventStreamDecoder, EventStreamMessage
from agui_proxy.errors import UpstreamProtocolError
from tests.support import eventstream as es

ALL_TYPES: list[es.Header] = [
    ("t", 0, None), ("f", 1, None), ("byte", 2, -3), ("short", 3, -300), ("int", 4, 70000),
    ("long", 5, -2**40), ("bytes", 6, b"\x00\xff"), ("string", 7, "héllo ✓"), ("time", 8, 1700000000123),
    ("id", 9, uuid.UUID(int=5)),
]
STREAM = b"".join([
    es.event("messageStart", {"role": "assistant"}),
    es.message(ALL_TYPES, b'{"x": 1}'),
    es.message([], b""),  # the smallest message there is: 16 bytes
    es.message([(":message-type", 7, "event")], b"\x00" * 300),
    es.exception("throttlingException", "Too many requests, please wait before trying again."),
])


def decode(chunks: Iterable[bytes], max_size: int | None = None) -> tuple[list[EventStreamMessage], bool]:
    decoder = EventStreamDecoder() if max_size is None else EventStreamDecoder(max_size)
    out: list[EventStreamMessage] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    out += decoder.close()
    return out, decoder.truncated


def plain(messages: Iterable[Any]) -> list[tuple[dict[str, Any], bytes]]:
    """Messages as (headers, payload), a UUID as its 16 bytes (botocore's form)."""
    return [({k: v.bytes if isinstance(v, uuid.UUID) else v for k, v in m.headers.items()}, bytes(m.payload))
            for m in messages]


def botocore_reading(raw: bytes) -> list[tuple[dict[str, Any], bytes]]:
    eventstream = pytest.importorskip("botocore.eventstream", reason="the aws extra (botocore) is not installed")
    buffer = eventstream.EventStreamBuffer()
    buffer.add_data(raw)
    return plain(buffer)


def test_every_header_type_to_the_spec() -> None:
    (msg,) = decode([es.message(ALL_TYPES, b"payload")])[0]
    assert msg.headers == {"t": True, "f": False, "byte": -3, "short": -300, "int": 70000, "long": -2**40,
                           "bytes": b"\x00\xff", "string": "héllo ✓", "time": 1700000000123,
                           "id": uuid.UUID(int=5)}
    assert msg.payload == b"payload"
    assert msg.header("string") == "héllo ✓" and msg.header("int") == "" and msg.header("none") == ""


def test_a_hand_laid_message() -> None:
    # No helper: the bytes as the spec lays them out, for one string header and a 2-byte payload.
    header = b"\x0d:message-type\x07\x00\x05event"
    prelude = struct.pack(">II", 16 + len(header) + 2, len(header))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + header + b"{}"
    (msg,) = decode([head + struct.pack(">I", zlib.crc32(head))])[0]
    assert msg.headers == {":message-type": "event"} and msg.payload == b"{}"


def test_same_as_botocore_whole() -> None:
    ours, truncated = decode([STREAM])
    assert not truncated
    assert plain(ours) == botocore_reading(STREAM)
    assert len(ours) == 5


def test_same_messages_byte_by_byte_and_at_every_split() -> None:
    whole = plain(decode([STREAM])[0])
    assert plain(decode([STREAM[i:i + 1] for i in range(len(STREAM))])[0]) == whole
    for cut in range(len(STREAM) + 1):
        assert plain(decode([STREAM[:cut], STREAM[cut:]])[0]) == whole, cut


def test_same_messages_at_random_three_way_splits() -> None:
    whole = plain(decode([STREAM])[0])
    rng = random.Random(25)
    for _ in range(300):
        a, b = sorted(rng.sample(range(len(STREAM) + 1), 2))
        assert plain(decode([STREAM[:a], STREAM[a:b], STREAM[b:]])[0]) == whole


def test_recorded_bedrock_stream_matches_botocore() -> None:
    raw = b"".join(es.event(kind, payload) for kind, payload in [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hello"}, "p": "abcd"}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": "end_turn"}),
        ("metadata", {"usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7}, "metrics": {}}),
    ])
    assert plain(decode([raw])[0]) == botocore_reading(raw)


def test_a_truncated_frame_is_reported_at_close() -> None:
    for cut in itertools.chain(range(1, 20), [len(STREAM) - 1]):
        _, truncated = decode([STREAM[:cut]])
        assert truncated, cut
    assert decode([STREAM])[1] is False
    assert decode([b""])[1] is False


@pytest.mark.parametrize("where", ["prelude", "headers", "payload", "message crc"])
def test_a_corrupt_crc_is_refused(where: str) -> None:
    raw = bytearray(es.message([(":message-type", 7, "event")], b'{"a": 1}'))
    offset = {"prelude": 9, "headers": 14, "payload": len(raw) - 6, "message crc": len(raw) - 1}[where]
    raw[offset] ^= 0x01
    decoder = EventStreamDecoder()
    with pytest.raises(UpstreamProtocolError, match="CRC does not match"):
        decoder.feed(bytes(raw))
    with pytest.raises(RuntimeError):
        decoder.feed(b"")  # the framing is lost: no reading on after it


def test_a_bad_prelude_crc_is_found_before_the_message_arrives() -> None:
    raw = bytearray(es.message([], b"x" * 1000))
    raw[0] ^= 0x7F  # the length is now wrong, and so is its CRC
    with pytest.raises(UpstreamProtocolError, match="prelude CRC"):
        EventStreamDecoder().feed(bytes(raw[:12]))


def test_oversized_headers_are_refused_from_the_prelude() -> None:
    prelude = struct.pack(">II", 16 + MAX_HEADERS_LENGTH + 1, MAX_HEADERS_LENGTH + 1)
    with pytest.raises(UpstreamProtocolError, match="bytes of headers"):
        EventStreamDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))


def test_an_oversized_message_is_refused_before_it_is_buffered() -> None:
    raw = es.message([], b"x" * 5000)
    decoder = EventStreamDecoder(max_message_size=4096)
    with pytest.raises(UpstreamProtocolError, match="at most 4096"):
        decoder.feed(raw[:12])  # the prelude alone says it


def test_a_length_too_small_for_its_headers_is_refused() -> None:
    prelude = struct.pack(">II", 16, 8)
    with pytest.raises(UpstreamProtocolError, match="cannot hold"):
        EventStreamDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))


def _with_raw_headers(raw_headers: bytes, payload: bytes = b"") -> bytes:
    total = 16 + len(raw_headers) + len(payload)
    prelude = struct.pack(">II", total, len(raw_headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw_headers + payload
    return head + struct.pack(">I", zlib.crc32(head))


@pytest.mark.parametrize(("raw_headers", "message"), [
    (es.header_bytes("s", 7, "abcdef")[:-2], "run past"),  # a string longer than the headers
    (b"\x05ab", "run past"),  # a name longer than the headers
    (b"\x01a\x04\x00\x00", "run past"),  # an int cut short
    (b"\x01a\x0c", "unknown type 12"),
    (b"\x02\xff\xfe\x00", "not UTF-8"),
    (es.header_bytes("a", 7, "x") + es.header_bytes("a", 7, "y"), "two 'a' headers"),
])
def test_malformed_headers_are_refused(raw_headers: bytes, message: str) -> None:
    with pytest.raises(UpstreamProtocolError, match=message):
        EventStreamDecoder().feed(_with_raw_headers(raw_headers))


def test_many_distinct_header_sections_each_read_right() -> None:
    """More distinct header sections than a decoder keeps parsed: each message still gets its own."""
    raw = b"".join(es.event(f"kind{n % 40}", {"n": n}) for n in range(120))
    ours = plain(decode([raw])[0])
    assert [h[":event-type"] for h, _ in ours] == [f"kind{n % 40}" for n in range(120)]
    assert ours == botocore_reading(raw)
