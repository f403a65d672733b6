"""Compressed upstream bodies, inflated within bounds.

The proxy asks every upstream for ``accept-encoding: identity``: LLM providers stream their SSE
uncompressed, and a compressed stream is an amplifier (1 MB of gzipped newlines inflates to 1 GB;
httpx inflates each chunk whole and without limit, which blocked the event loop for seconds).
An upstream, or a box in front of it, may compress anyway, so the body is read raw and inflated
here: ``gzip`` and ``deflate`` (zlib-wrapped or raw, as RFC 9110 section 8.4.1.2 allows both) are
decoded; any other coding (``br``, ``zstd``, ``compress``, two codings stacked) is refused.

Two bounds keep a hostile body cheap:

- each piece handed on is at most :data:`PIECE` bytes (zlib's ``max_length``), and the reader
  yields to the event loop between the pieces of one chunk, so no single step runs long;
- the inflated size may not pass :data:`MAX_RATIO` times the compressed bytes received so far
  plus :data:`ALLOWANCE` (real SSE compresses 3 to 50 times; a newline bomb about 1,000 times):
  past it the run ends with ``RUN_ERROR upstream_protocol_error``.

No I/O here: :class:`Inflater` takes raw bytes and gives pieces (the shell's
``call.py`` reads and awaits).
"""

from __future__ import annotations

import zlib

from ..errors import UpstreamProtocolError

PIECE = 64 * 1024
MAX_RATIO = 100
ALLOWANCE = 1024 * 1024
DECODED = ("gzip", "x-gzip", "deflate")


def content_coding(header: str) -> str | None:
    """The one coding of a ``Content-Encoding`` header to undo (``None``: the body is as sent).

    Raises :class:`UpstreamProtocolError` for a coding the proxy does not decode.
    """
    codings = [c.strip().lower() for c in header.split(",") if c.strip() and c.strip().lower() != "identity"]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in DECODED:
        raise UpstreamProtocolError(f"the upstream answered with content-encoding {header.strip()!r}, which the "
                                    "proxy does not decode (it asks for identity)")
    return codings[0]


class Inflater:
    """Raw body bytes in (:meth:`feed`), pieces of the inflated body out (:meth:`next_piece`)."""

    __slots__ = ("_coding", "_first", "_full", "_in", "_out", "_pending", "_zlib")

    def __init__(self, coding: str) -> None:
        self._coding = coding
        # gzip: the gzip wrapper; deflate: zlib-wrapped, or raw deflate (told apart by its first bytes).
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding != "deflate" else zlib.MAX_WBITS)
        self._first = coding == "deflate"
        self._full = False  # the last piece filled PIECE: zlib may hold more output for no new input
        self._in = 0
        self._out = 0
        self._pending = b""

    def feed(self, data: bytes) -> None:
        self._in += len(data)
        self._pending += data

    @property
    def has_more(self) -> bool:
        """Whether :meth:`next_piece` may give more without another :meth:`feed`."""
        return bool(self._pending) or self._full

    def next_piece(self) -> bytes:
        """At most :data:`PIECE` inflated bytes of what was fed; ``b""`` when it needs more input."""
        if not self.has_more or (self._first and len(self._pending) < 2):
            return b""  # zlib's header is two bytes: deflate's two forms are told apart by them
        data, self._pending = self._pending, b""
        try:
            piece = self._zlib.decompress(data, PIECE)
        except zlib.error:
            if not self._first:
                raise self._corrupt() from None
            self._first = False
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent as raw deflate
            try:
                piece = self._zlib.decompress(data, PIECE)
            except zlib.error:
                raise self._corrupt() from None
        self._first = False
        self._pending = self._zlib.unconsumed_tail
        self._full = len(piece) == PIECE
        self._out += len(piece)
        if self._out > ALLOWANCE + MAX_RATIO * self._in:
            raise UpstreamProtocolError(f"the upstream's {self._coding} body inflates more than {MAX_RATIO} times "
                                        "its size; the run was ended rather than inflate it")
        return piece

    def close(self) -> None:
        """The raw body ended: it must have been a whole compressed stream."""
        if self._in and not self._zlib.eof:
            raise self._corrupt("ends before the end of its compressed data")

    def _corrupt(self, why: str = "is corrupt") -> UpstreamProtocolError:
        return UpstreamProtocolError(f"the upstream's compressed ({self._coding}) body {why}")
