"""Bounded inflation of compressed upstream bodies (upstream/inflate.py): fed whole, at every split
of a short body, and a seeded sample of splits of a long one; bombs, corruption, truncation and
codings the proxy does not decode are each the upstream's protocol error."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from agui_proxy.errors import UpstreamProtocolError
from agui_proxy.upstream.inflate import ALLOWANCE, PIECE, Inflater, content_coding

SHORT = b'data: {"choices":[{"delta":{"content":"Bonjour"}}]}\n\ndata: [DONE]\n\n'
LONG = b"".join(b'data: {"n":%d,"text":"%s"}\n\n' % (i, b"x" * (i % 50)) for i in range(5000))


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {"gzip": gzip.compress, "deflate": zlib.compress, "raw-deflate": raw_deflate}


def inflate(coding: str, pieces: list[bytes]) -> bytes:
    inflater = Inflater(coding)
    out = bytearray()
    for piece in pieces:
        inflater.feed(piece)
        while part := inflater.next_piece():
            assert len(part) <= PIECE
            out += part
    inflater.close()
    return bytes(out)


def coding_of(name: str) -> str:
    return "deflate" if name == "raw-deflate" else name


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_every_split_of_a_short_body(name: str) -> None:
    data = ENCODERS[name](SHORT)
    assert inflate(coding_of(name), [data]) == SHORT
    assert inflate(coding_of(name), [data[i:i + 1] for i in range(len(data))]) == SHORT
    for cut in range(1, len(data)):
        assert inflate(coding_of(name), [data[:cut], data[cut:]]) == SHORT, cut


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_a_seeded_sample_of_splits_of_a_long_body(name: str) -> None:
    data = ENCODERS[name](LONG)
    rng = random.Random(15)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(data)), 8))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert inflate(coding_of(name), pieces) == LONG


def test_a_bomb_is_refused_before_it_is_inflated() -> None:
    bomb = gzip.compress(b"\n" * (50 * 1024 * 1024), compresslevel=9)
    inflater = Inflater("gzip")
    inflated = 0
    with pytest.raises(UpstreamProtocolError, match="inflates more than 100 times"):
        for start in range(0, len(bomb), 4096):
            inflater.feed(bomb[start:start + 4096])
            while part := inflater.next_piece():
                inflated += len(part)
    assert inflated <= ALLOWANCE + 100 * len(bomb)


@pytest.mark.parametrize(("data", "words"), [
    (gzip.compress(SHORT)[:-12], "ends before the end"),
    (b"\x1f\x8b\x08\x00" + b"\xff" * 40, "corrupt"),
])
def test_corrupt_or_cut_bodies(data: bytes, words: str) -> None:
    with pytest.raises(UpstreamProtocolError, match=words):
        inflate("gzip", [data])


@pytest.mark.parametrize(("header", "coding"), [("", None), ("identity", None), ("GZip", "gzip"),
                                                ("x-gzip", "x-gzip"), (" deflate ", "deflate")])
def test_codings_decoded(header: str, coding: str | None) -> None:
    assert content_coding(header) == coding


@pytest.mark.parametrize("header", ["br", "zstd", "compress", "gzip, gzip", "deflate, br"])
def test_codings_refused(header: str) -> None:
    with pytest.raises(UpstreamProtocolError, match="does not decode"):
        content_coding(header)
