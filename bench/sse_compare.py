"""agui-proxy's SSE decoder next to httpx-sse's, on the same bytes: speed and correctness.

httpx-sse decodes text, not bytes: its ``aiter_sse`` runs httpx's incremental UTF-8 decoder
(``Response.aiter_text``: ``codecs`` with ``errors="replace"``), then its ``SSELineDecoder`` and
``SSEDecoder``.  :class:`HttpxSSE` chains exactly those, fed the same chunks as the project's
:class:`~agui_proxy.core.sse.SSEDecoder`, so both are measured on the same input doing the same
job: chunks in, ``(event, data)`` out.

Correctness is judged against the WHATWG rules (HTML section 9.2.6) on the cases of
:data:`CASES`: the line ends, a CR at the end of one chunk and its LF in the next, a BOM (whole
and split), UTF-8 split and invalid, multi-line data, comments, fields without a space or a colon,
Unicode line separators that are not SSE line ends, and what dispatches nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from httpx._decoders import TextDecoder  # what Response.aiter_text uses, so what aiter_sse sees
from httpx_sse._decoders import SSEDecoder as HttpxSSEDecoder
from httpx_sse._decoders import SSELineDecoder

from agui_proxy.core.sse import SSEDecoder

from .core import STREAMS, bench_stream, event_chunks

Decoded = list[tuple[str, str]]


class HttpxSSE:
    """httpx-sse's bytes-to-events path (``EventSource.aiter_sse``), without the network."""

    def __init__(self) -> None:
        self._text = TextDecoder("utf-8")
        self._lines = SSELineDecoder()
        self._events = HttpxSSEDecoder()

    def _decode(self, lines: list[str], out: Decoded) -> None:
        for line in lines:
            sse = self._events.decode(line.rstrip("\n"))
            if sse is not None:
                # Its ``event`` property answers "message" (the spec's default type) for "".
                out.append(("" if sse.event == "message" else sse.event, sse.data))

    def feed(self, chunk: bytes) -> Decoded:
        out: Decoded = []
        text = self._text.decode(chunk)
        if text:
            self._decode(self._lines.decode(text), out)
        return out

    def close(self) -> Decoded:
        out: Decoded = []
        text = self._text.flush()
        if text:
            self._decode(self._lines.decode(text), out)
        self._decode(self._lines.flush(), out)
        return out


class Project:
    """agui-proxy's decoder, its events as ``(event, data)`` pairs."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()

    def feed(self, chunk: bytes) -> Decoded:
        return [(e.event, e.data) for e in self._decoder.feed(chunk)]

    def close(self) -> Decoded:
        return [(e.event, e.data) for e in self._decoder.close()]


DECODERS: dict[str, Callable[[], Any]] = {"agui-proxy": Project, "httpx-sse": HttpxSSE}


@dataclass(frozen=True)
class Case:
    name: str
    chunks: tuple[bytes, ...]
    expected: Decoded  # what the WHATWG rules give
    note: str = ""


CASES = (
    Case("LF line ends", (b"data: a\n\ndata: b\n\n",), [("", "a"), ("", "b")]),
    Case("CRLF line ends (Gemini)", (b"data: a\r\n\r\ndata: b\r\n\r\n",), [("", "a"), ("", "b")]),
    Case("CR-only line ends", (b"data: a\r\rdata: b\r\r",), [("", "a"), ("", "b")]),
    Case("CRLF split between chunks", (b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"), [("", "a"), ("", "b")]),
    Case("leading BOM dropped", (b"\xef\xbb\xbfdata: a\n\n",), [("", "a")]),
    Case("leading BOM split between chunks", (b"\xef", b"\xbb\xbfdata: a\n\n"), [("", "a")]),
    Case("UTF-8 character split between chunks", ("data: \u00e9\U0001f600\n\n".encode()[:8],
                                                    "data: \u00e9\U0001f600\n\n".encode()[8:]),
         [("", "\u00e9\U0001f600")]),
    Case("invalid UTF-8 becomes U+FFFD", (b"data: a\xffb\n\n",), [("", "a\ufffdb")]),
    Case("multi-line data joined with LF", (b"data: a\ndata: b\n\n",), [("", "a\nb")]),
    Case("comments ignored", (b": keep-alive\ndata: a\n\n",), [("", "a")]),
    Case("no space after the colon", (b"data:a\n\n",), [("", "a")]),
    Case("only one space dropped", (b"data:  a\n\n",), [("", " a")]),
    Case("a field with no colon", (b"data\n\n",), [("", "")]),
    Case("event name, reset after dispatch", (b"event: x\ndata: a\n\ndata: b\n\n",), [("x", "a"), ("", "b")]),
    Case("U+2028, U+0085 and 0x1C are not line ends", ("data: a\u2028b\u0085c\x1cd\n\n".encode(),),
         [("", "a\u2028b\u0085c\x1cd")]),
    Case("an event with no data dispatches nothing", (b"event: ping\n\n",), []),
    Case("extra blank lines dispatch nothing", (b"\n\n\ndata: a\n\n\n\n",), [("", "a")]),
    Case("unterminated last event at end of input", (b"data: a\n\ndata: b",), [("", "a")],
         "the spec drops it; agui-proxy dispatches it and flags the stream truncated, on purpose "
         "(recordings end that way: FORMATS.md section 0), so this row is not counted against it"),
)


def decode(factory: Callable[[], Any], chunks: tuple[bytes, ...] | list[bytes]) -> Decoded:
    decoder = factory()
    out: Decoded = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    out += decoder.close()
    return out


def correctness() -> list[dict[str, Any]]:
    rows = []
    for case in CASES:
        row: dict[str, Any] = {"case": case.name, "note": case.note}
        for name, factory in DECODERS.items():
            got = decode(factory, case.chunks)
            row[name] = {"ok": got == case.expected, "got": got}
        if case.note:
            row["agui-proxy"]["deliberate"] = True
        rows.append(row)
    return rows


def _inputs() -> dict[str, list[list[bytes]]]:
    """Byte streams to time, each in three chunkings: whole, one event per chunk, 64-byte chunks."""
    streams: dict[str, bytes] = {"bench stream (Chat Completions, 100 tokens)": bench_stream()}
    gemini = sorted((STREAMS / "gemini").glob("*.sse")) if STREAMS.is_dir() else []
    if gemini:
        streams["gemini recordings (CRLF)"] = b"".join(p.read_bytes() for p in gemini)
    big = STREAMS / "openai-responses" / "reasoning-summary-multipart-long.sse"
    if big.exists():
        streams["openai-responses long reasoning (194 KB, non-ASCII)"] = big.read_bytes()
    out = {}
    for name, data in streams.items():
        out[name] = [[data], event_chunks(data), [data[i:i + 64] for i in range(0, len(data), 64)]]
    return out


CHUNKINGS = ("whole", "one event per chunk", "64-byte chunks")


def speed(seconds: float) -> list[dict[str, Any]]:
    rows = []
    inputs = _inputs()
    per_run = seconds / (len(inputs) * len(CHUNKINGS) * len(DECODERS))
    for name, chunkings in inputs.items():
        events = len(decode(Project, chunkings[0]))
        for label, chunks in zip(CHUNKINGS, chunkings, strict=True):
            row: dict[str, Any] = {"input": name, "chunking": label, "events": events}
            for decoder, factory in DECODERS.items():
                decode(factory, chunks)  # warm up
                runs = 0
                start = time.perf_counter()
                while (elapsed := time.perf_counter() - start) < per_run or runs < 3:
                    decode(factory, chunks)
                    runs += 1
                row[decoder] = events * runs / elapsed
            rows.append(row)
    return rows


def run(seconds: float) -> dict[str, Any]:
    return {"correctness": correctness(), "speed": speed(seconds)}
