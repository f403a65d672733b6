"""``limits.max_header_bytes`` in uvicorn's two protocols (httptools and h11), fed a head whole, a
byte at a time and split at every offset: a head of exactly the limit is parsed (its request
starts), one byte more gets the 431 and nothing of it reaches the parser's request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.server import ServerState

from agui_proxy.serving.header_timeout import PROTOCOLS, UvicornConfig

LIMIT = 300


class Transport(asyncio.Transport):
    """What the protocol writes, and whether it closed or half-closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closing = False
        self.eof = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def write_eof(self) -> None:
        self.eof = True

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def head_of(size: int, line_end: bytes = b"\r\n") -> bytes:
    start = b"GET /healthz HTTP/1.1" + line_end + b"host: x" + line_end + b"x-pad: "
    end = line_end + line_end
    return start + b"a" * (size - len(start) - len(end)) + end


def pieces(data: bytes) -> list[list[bytes]]:
    """``data`` whole, a byte at a time, and split in two at every offset."""
    return [[data], [data[i:i + 1] for i in range(len(data))], *([data[:i], data[i:]] for i in range(1, len(data)))]


async def feed(http: str, reads: list[bytes]) -> tuple[Any, Transport]:
    config = UvicornConfig(app, http=http, max_header_bytes=LIMIT, header_timeout=10, log_config=None)
    config.load()
    protocol: Any = PROTOCOLS[http](config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    for data in reads:
        protocol.data_received(data)
    protocol._stop_header_timer()
    return protocol, transport


@pytest.mark.parametrize(("http", "line_end"), [("httptools", b"\r\n"), ("h11", b"\r\n"), ("h11", b"\n")],
                         ids=["httptools", "h11", "h11-bare-lf"])  # llhttp refuses bare LF line ends itself
def test_a_head_of_the_limit_is_parsed_one_byte_more_is_refused(http: str, line_end: bytes) -> None:
    async def check() -> None:
        for reads in pieces(head_of(LIMIT, line_end)):
            protocol, transport = await feed(http, reads)
            assert protocol.cycle is not None, (reads, transport.written)
            assert not transport.written.startswith(b"HTTP/1.1 431"), reads
        for reads in pieces(head_of(LIMIT + 1, line_end)):
            protocol, transport = await feed(http, reads)
            assert protocol.cycle is None, reads
            assert transport.written.startswith(b"HTTP/1.1 431 "), (reads, transport.written)
            assert b"limits.max_header_bytes" in transport.written and transport.eof

    asyncio.run(check())
