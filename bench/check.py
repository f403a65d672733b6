"""Is a stream exact?  Every body the bench receives is checked whole, after it ended.

- ``agui`` (agui-proxy, the docs server): ``data: <json>\\n\\n`` frames, ``RUN_STARTED``, one text
  message whose ``TEXT_MESSAGE_CONTENT`` deltas join to exactly the text the upstream streamed,
  ``RUN_FINISHED``, then ``data: [DONE]``.  Comment-only blocks (keep-alive pings) are skipped, as
  an SSE client skips them.
- ``openai`` (the passthrough, LiteLLM, the upstream itself): Chat Completions chunks whose
  ``choices[0].delta.content`` join to exactly that text, a ``finish_reason``, then ``data: [DONE]``.

The answer is ``""`` for an exact stream, else what is wrong (the first problem found).
"""

from __future__ import annotations

import json
from typing import Any

from .streams import StreamSpec

_DONE = b"data: [DONE]"
_AGUI_SHAPE = ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "RUN_FINISHED"]


def _frames(body: bytes) -> list[bytes]:
    # SSE allows CRLF line ends; some servers use them (agui-proxy never does: PROTOCOL.md 2).
    text = body.replace(b"\r\n", b"\n")
    return [f for f in text.split(b"\n\n") if f.strip() and not _comments_only(f)]


def _comments_only(frame: bytes) -> bool:
    """A block of ``:`` comment lines (agui-proxy's ``: ping`` keep-alive after streams.keepalive
    seconds of silence): SSE clients ignore it and it dispatches no event (WHATWG HTML 9.2.6)."""
    return all(line.startswith(b":") for line in frame.strip(b"\n").split(b"\n"))


def _data(frame: bytes) -> bytes | None:
    """The data of a frame with one ``data:`` line (``event:`` lines allowed), else None."""
    data = [line for line in frame.split(b"\n") if line.startswith(b"data:")]
    if len(data) != 1:
        return None
    return data[0][5:].removeprefix(b" ")


def check_body(kind: str, status: int, body: bytes, spec: StreamSpec) -> str:
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    frames = _frames(body)
    if not frames or frames[-1].strip() != _DONE:
        return f"no data: [DONE] at the end: {body[-200:]!r}"
    payloads: list[Any] = []
    for frame in frames[:-1]:
        data = _data(frame)
        if data is None:
            return f"not one data line: {frame[:200]!r}"
        try:
            payloads.append(json.loads(data))
        except ValueError:
            return f"not JSON: {data[:200]!r}"
    text = _agui_text(payloads) if kind == "agui" else _openai_text(payloads)
    if text.startswith("!"):
        return text[1:]
    if text != spec.text:
        return f"text differs: got {len(text)} chars, expected {len(spec.text)}: {text[:80]!r}"
    return ""


def _agui_text(events: list[Any]) -> str:
    kinds = [e.get("type") for e in events]
    shape = [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]]
    if shape != _AGUI_SHAPE:
        return f"!unexpected event order: {shape}"
    return "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")


def _openai_text(chunks: list[Any]) -> str:
    parts: list[str] = []
    finished = False
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            content = (choice.get("delta") or {}).get("content")
            if content:
                parts.append(content)
            finished = finished or bool(choice.get("finish_reason"))
    if not finished:
        return "!no finish_reason"
    return "".join(parts)
