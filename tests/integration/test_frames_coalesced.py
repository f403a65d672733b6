"""Frames of upstream events that arrive together leave in one write; the others leave at once.

The client reads the raw HTTP/1.1 response, where each ``send`` of the proxy is one HTTP chunk
(uvicorn frames every body message as one chunk), so the chunks show what was sent together.
"""

from __future__ import annotations

import threading

import pytest

from ..support.agui_check import assert_valid_run, parse_frames, text_of
from ..support.openai_chat_streams import TEXT, TEXT_PIECES, text_transcript
from ..support.proxy import ProxyProcess, RawStream
from ..support.upstream import SSE_HEADERS, Chunk, End, Raw, ScriptedUpstream, Status, Step, WaitFor, sse_event

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

BODY = {"params": {"messages": [{"role": "user", "content": "Hello"}]}}


def http_chunks(raw: bytes) -> tuple[list[bytes], bool]:
    """The complete chunk payloads of a chunked HTTP/1.1 response so far, and whether it ended."""
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    chunks = []
    while b"\r\n" in body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if len(rest) < size + 2:
            break
        if size == 0:
            return chunks, True
        chunks.append(rest[:size])
        assert rest[size:size + 2] == b"\r\n"
        body = rest[size + 2:]
    return chunks, False


def read_chunks(client: RawStream, count: int) -> list[bytes]:
    """Read until ``count`` chunks (or the response's end) have arrived."""
    while True:
        chunks, ended = http_chunks(client.received) if b"\r\n\r\n" in client.received else ([], False)
        if ended or len(chunks) >= count:
            return chunks
        data = client.sock.recv(65536)
        assert data, f"the proxy closed the connection: {client.received!r}"
        client.received += data


def framed(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def events() -> list[bytes]:
    return [sse_event(chunk) for chunk in text_transcript()] + [b"data: [DONE]\n\n"]


def test_events_that_arrive_together_are_sent_together(up: ScriptedUpstream, plain_proxy: ProxyProcess) -> None:
    # Every event its own HTTP chunk, as providers frame them, all in one write.
    up.script(Status(200, SSE_HEADERS), Raw(b"".join(framed(e) for e in events())), End())
    with RawStream(plain_proxy.url, "/api/agent", BODY) as client:
        client.read_until(b"\r\n0\r\n\r\n")
        chunks, ended = http_chunks(client.received)
    assert ended
    run, done = parse_frames(b"".join(chunks))
    assert done
    assert_valid_run(run)
    assert text_of(run) == TEXT
    # RUN_STARTED goes out before the upstream is asked; everything else came in one read.
    assert [len(parse_frames(c)[0]) for c in chunks] == [1, len(run) - 1]


def test_events_that_arrive_one_by_one_are_sent_one_by_one(up: ScriptedUpstream, plain_proxy: ProxyProcess) -> None:
    role, *contents, finish, usage = events()[:-1]
    assert len(contents) == len(TEXT_PIECES)
    seen = [threading.Event() for _ in contents]
    steps: list[Step] = [Status(200, SSE_HEADERS), Chunk(role + contents[0]), WaitFor(seen[0])]
    for content, reached in zip(contents[1:], seen[1:], strict=True):
        steps += [Chunk(content), WaitFor(reached)]  # the next event only once this one reached the client
    up.script(*steps, Chunk(finish + usage + b"data: [DONE]\n\n"), End())
    with RawStream(plain_proxy.url, "/api/agent", BODY) as client:
        for i, reached in enumerate(seen):
            read_chunks(client, i + 2)  # RUN_STARTED, then one chunk per content event
            reached.set()
        client.read_until(b"\r\n0\r\n\r\n")
        chunks, ended = http_chunks(client.received)
    assert ended
    frames = [[e["type"] for e in parse_frames(c)[0]] for c in chunks]
    assert frames == [["RUN_STARTED"], ["TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT"],
                      *[["TEXT_MESSAGE_CONTENT"]] * (len(contents) - 1), ["TEXT_MESSAGE_END", "RUN_FINISHED"]]
    run, done = parse_frames(b"".join(chunks))
    assert done and text_of(run) == TEXT
