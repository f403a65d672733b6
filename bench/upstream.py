"""A fast fake Chat Completions upstream on loopback, its own process: ``python -m bench.upstream``.

Raw asyncio protocol (uvloop when installed), HTTP/1.1 keep-alive, one precomputed byte string
per chunk, so the contenders are measured and not the upstream; the bench reads this process's
CPU time too and reports it (it must stay far from a full core).

Any ``POST`` answers with a stream whose shape the request's last user message sets
(:class:`bench.streams.StreamSpec`):

- ``burst``: the whole response in one write (every event still its own HTTP chunk);
- ``paced``: the role chunk and the first token at once, then every token its own write (its own
  HTTP chunk) ``interval_ms`` apart, as real providers send them;
- ``hold``: the role chunk and the first token, then nothing until ``POST /release`` (the bench
  counts the streams it holds open this way), then the rest at once;
- ``held``: as ``paced``, but the last token and the end wait for ``POST /release`` (the tokens
  sent by then keep coming ``interval_ms`` apart): thousands of paced streams open at once.

``GET /stats`` answers ``{"requests", "open"}``.  The port is printed on stdout once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from functools import lru_cache

from .streams import StreamSpec, finish_chunks, role_chunk, token_chunk

_SSE_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
             b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
_LAST_CHUNK = b"0\r\n\r\n"


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@lru_cache(maxsize=4096)
def _token(i: int) -> bytes:
    return _http_chunk(token_chunk(i))


@lru_cache(maxsize=64)
def _burst(tokens: int, usage: bool) -> bytes:
    # Every event its own HTTP chunk, as providers frame them, but all of them in one write: what a
    # proxy reads when events pile up (a slow reader, a network that batches segments).
    events = [role_chunk(), *(token_chunk(i) for i in range(tokens)), finish_chunks(tokens, usage)]
    return _SSE_HEAD + b"".join(map(_http_chunk, events)) + _LAST_CHUNK


@lru_cache(maxsize=64)
def _tail(tokens: int, usage: bool) -> bytes:
    return _http_chunk(finish_chunks(tokens, usage)) + _LAST_CHUNK


def _json_response(status: str, payload: object) -> bytes:
    body = json.dumps(payload).encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
            .encode() + body)


class Upstream:
    """The state shared by every connection: counters and the streams on hold."""

    def __init__(self) -> None:
        self.requests = 0
        self.open = 0
        self.held: list[Connection] = []

    def release(self) -> int:
        held, self.held = self.held, []
        for conn in held:
            conn.finish_hold()
        return len(held)


class Connection(asyncio.Protocol):
    def __init__(self, upstream: Upstream) -> None:
        self.up = upstream
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False  # a streamed response is under way (requests are not pipelined)
        self.timer: asyncio.TimerHandle | None = None
        self._hold: tuple[int, bool] | None = None
        self._sent = 0  # tokens of a held stream written so far

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.busy:
            self.up.open -= 1
            self.busy = False
        if self in self.up.held:
            self.up.held.remove(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while not self.busy:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "transfer-encoding":
                    self._reply(_json_response("501 Not Implemented", {"error": "send a content-length"}))
                    return
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4:end + 4 + length])
            del self.buf[:end + 4 + length]
            method, target, _ = head.split(" ", 2)
            self._dispatch(method, target, body)

    def _reply(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def _dispatch(self, method: str, target: str, body: bytes) -> None:
        path = target.partition("?")[0]
        if method == "GET" and path == "/stats":
            self._reply(_json_response("200 OK", {"requests": self.up.requests, "open": self.up.open}))
        elif method == "POST" and path == "/release":
            self._reply(_json_response("200 OK", {"released": self.up.release()}))
        elif method == "POST":
            try:
                request = json.loads(body)
                spec = StreamSpec.parse(request["messages"][-1]["content"])
                usage = bool((request.get("stream_options") or {}).get("include_usage"))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                self._reply(_json_response("400 Bad Request", {"error": {"message": f"not a bench request: {exc}"}}))
                return
            self.up.requests += 1
            self._stream(spec, usage)
        else:
            self._reply(_json_response("404 Not Found", {"error": "no such path"}))

    def _stream(self, spec: StreamSpec, usage: bool) -> None:
        if spec.mode == "burst":
            self._reply(_burst(spec.tokens, usage))
            return
        self.busy = True
        self.up.open += 1
        self._reply(_SSE_HEAD + _http_chunk(role_chunk()) + _token(0))
        if spec.mode in ("hold", "held"):
            self._hold = (spec.tokens, usage)
            self._sent = 1
            self.up.held.append(self)
        if spec.mode != "hold":
            self._next(1, spec.tokens, spec.interval_ms / 1000, usage)

    def _next(self, i: int, tokens: int, interval: float, usage: bool) -> None:
        if self._hold is not None:  # held: tokens until the last, which waits for the release
            if i < tokens - 1:
                self.timer = self.loop.call_later(interval, self._send_token, i, tokens, interval, usage)
            return
        if i < tokens:
            self.timer = self.loop.call_later(interval, self._send_token, i, tokens, interval, usage)
        else:
            self.timer = None
            self._done(tokens, usage)

    def _send_token(self, i: int, tokens: int, interval: float, usage: bool) -> None:
        if self.transport is None:
            return
        self._reply(_token(i))
        self._sent = i + 1
        self._next(i + 1, tokens, interval, usage)

    def finish_hold(self) -> None:
        if self._hold is not None and self.transport is not None:
            tokens, usage = self._hold
            self._hold = None
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self._reply(b"".join(_token(i) for i in range(self._sent, tokens)))
            self._done(tokens, usage)

    def _done(self, tokens: int, usage: bool) -> None:
        self._reply(_tail(tokens, usage))
        self.busy = False
        self.up.open -= 1
        if self.buf:  # a request that came while this one streamed
            self.data_received(b"")


async def serve(host: str, port: int) -> None:
    upstream = Upstream()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(upstream), host, port, backlog=8192)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(serve(args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
