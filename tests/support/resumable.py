"""A client of resumable runs for tests: read a run's SSE frames with their ids, drop the connection
after some of them, reattach with ``Last-Event-ID``, and compare runs with ids and timestamps aside."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

PING = b": ping"


@dataclass
class Frames:
    """What one response gave: ``(id, data)`` per frame (id ``None`` for a frame without one: the
    terminator), the status, headers and whether the body ended (not dropped)."""

    status: int
    headers: httpx.Headers
    frames: list[tuple[int | None, str]] = field(default_factory=list)
    body: bytes = b""
    complete: bool = False

    @property
    def ids(self) -> list[int]:
        return [seq for seq, _ in self.frames if seq is not None]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(data) for _, data in self.frames if data != "[DONE]"]

    @property
    def done(self) -> bool:
        return bool(self.frames) and self.frames[-1][1] == "[DONE]"


def _parse(block: bytes) -> tuple[int | None, str] | None:
    seq: int | None = None
    data: str | None = None
    for line in block.split(b"\n"):
        if line.startswith(b"id: "):
            seq = int(line[4:])
        elif line.startswith(b"data: "):
            data = line[6:].decode()
    return None if data is None else (seq, data)


def iter_frames(response: httpx.Response, got: Frames | None = None) -> Iterator[tuple[int | None, str]]:
    """The frames of a streamed response as they arrive (pings skipped); ``got`` collects the body."""
    buffer = b""
    for chunk in response.iter_raw():
        if got is not None:
            got.body += chunk
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            if block.startswith(PING):
                continue
            parsed = _parse(block)
            if parsed is not None:
                yield parsed


def read_frames(client: httpx.Client, method: str, url: str, *, body: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, stop_after: int | None = None) -> Frames:
    """Read a response's frames; with ``stop_after``, close the connection once that many frames came."""
    content = json.dumps(body).encode() if body is not None else None
    sent = {"content-type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
    with client.stream(method, url, content=content, headers=sent) as response:
        got = Frames(response.status_code, response.headers)
        for frame in iter_frames(response, got):
            got.frames.append(frame)
            if stop_after is not None and len(got.frames) >= stop_after:
                return got  # leaving the block closes the connection mid-stream
        got.complete = True
    return got


_GENERATED = ("messageId", "toolCallId", "parentMessageId", "entityId", "runId", "threadId")


def comparable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events with what differs between two runs of one recording taken out: the timestamps, and
    the ids the proxy generates, each replaced by its order of first appearance (so two runs that
    use one id where the other uses two still differ)."""
    names: dict[str, str] = {}
    out = []
    for event in events:
        event = {k: v for k, v in event.items() if k != "timestamp"}
        for key in _GENERATED:
            if key in event:
                event[key] = names.setdefault(event[key], f"id{len(names)}")
        out.append(event)
    return out
