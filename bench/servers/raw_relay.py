"""The Python floor: a relay on raw uvloop Protocols on both sides, no framework, no HTTP library.

It reads the client's request (head and ``Content-Length`` body), sends it on a kept-alive
upstream connection, and writes every upstream read to the client as it came (the upstream's
own chunked framing included), so per token it costs one read wake-up and one write: what no
Python server can go under.  httptools finds where each upstream response ends, so the upstream
connection goes back to the pool; flow control both ways (a client that does not read pauses
the upstream's socket).  Keep-alive both sides, requests one at a time per connection.

    python -m bench.servers.raw_relay --port 8002 --upstream 127.0.0.1:9000
"""

from __future__ import annotations

import argparse
import asyncio

import httptools
import uvloop

_FORWARD = b"content-type: application/json\r\naccept: text/event-stream\r\n"


class UpstreamSide(asyncio.Protocol):
    """One pooled connection to the upstream, relaying its response to the current client."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.client: ClientSide | None = None
        self.parser: httptools.HttpResponseParser | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self, client: ClientSide, request: bytes) -> None:
        self.client = client
        self.parser = httptools.HttpResponseParser(self)
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is None or self.parser is None:
            return
        client.write(data)
        self.parser.feed_data(data)  # calls on_message_complete at the response's end

    def on_message_complete(self) -> None:
        client, self.client = self.client, None
        self.parser = None
        self.relay.idle.append(self)
        if client is not None:
            client.response_done()

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.relay.idle:
            self.relay.idle.remove(self)
        if self.client is not None:
            self.client.abort()
        self.transport = None


class ClientSide(asyncio.Protocol):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False
        self.upstream: UpstreamSide | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self.next_request()

    def next_request(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        length = 0
        for line in bytes(self.buf[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self.buf) < end + 4 + length:
            return
        body = bytes(self.buf[end + 4:end + 4 + length])
        del self.buf[:end + 4 + length]
        self.busy = True
        request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: %s\r\n%scontent-length: %d\r\n\r\n"
                   % (self.relay.host_header, _FORWARD, len(body))) + body
        self.relay.send(self, request)

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def response_done(self) -> None:
        self.upstream = None
        self.busy = False
        if self.buf:
            self.next_request()

    def pause_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.resume_reading()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        upstream = self.upstream
        if upstream is not None and upstream.client is self and upstream.transport is not None:
            upstream.client = None
            upstream.transport.abort()  # a response cut short cannot be reused


class Relay:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.host_header = f"{host}:{port}".encode()
        self.idle: list[UpstreamSide] = []
        self.connecting: set[asyncio.Task[None]] = set()

    def send(self, client: ClientSide, request: bytes) -> None:
        """On a pooled connection at once (no task, no await), else once a new one is open."""
        while self.idle:
            upstream = self.idle.pop()
            if upstream.transport is not None and not upstream.transport.is_closing():
                self._start(client, upstream, request)
                return
        task = asyncio.ensure_future(self._connect_and_send(client, request))
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    async def _connect_and_send(self, client: ClientSide, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(lambda: UpstreamSide(self), self.host, self.port)
        except OSError:
            client.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            client.response_done()
            return
        self._start(client, upstream, request)

    def _start(self, client: ClientSide, upstream: UpstreamSide, request: bytes) -> None:
        if client.transport is None:
            self.idle.append(upstream)
            return
        client.upstream = upstream
        upstream.start(client, request)


async def serve(port: int, upstream: str) -> None:
    host, _, up_port = upstream.rpartition(":")
    relay = Relay(host, int(up_port))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ClientSide(relay), "127.0.0.1", port, backlog=8192)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the upstream")
    args = parser.parse_args()
    uvloop.run(serve(args.port, args.upstream))


if __name__ == "__main__":
    main()
