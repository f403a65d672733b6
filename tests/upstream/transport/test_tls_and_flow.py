"""TLS through the event loop (a test CA from trustme), flow control both ways, and response
bytes split at every offset."""

from __future__ import annotations

import asyncio
import random
import ssl

import httpx
import pytest
import trustme

from agui_proxy.upstream.transport import LeanTransport, body_of
from agui_proxy.upstream.transport.connection import HIGH_WATER, Connection

from .servers import OK_CHUNKED, Server, ServerConn, chunked, ok_length, run, serve_forever, until

LOOPS = pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@LOOPS
def test_tls_with_a_trusted_ca(loop_name: str, ca: trustme.CA) -> None:
    async def main() -> None:
        names: list[str | None] = []
        context = server_context(ca, "localhost")
        context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment]
        async with Server(lambda c: serve_forever(c, lambda h, b: ok_length(b"over tls")), ssl=context) as server, \
                httpx.AsyncClient(transport=LeanTransport(verify=trusting(ca))) as http:
            for _ in range(2):
                assert (await http.get(server.url(scheme="https", host="localhost"))).text == "over tls"
            assert names == ["localhost"]  # the name went out as SNI, on one connection kept alive
            assert len(server.connections) == 1

    run(loop_name, main())


@LOOPS
def test_tls_wrong_host_and_untrusted_ca_are_refused(loop_name: str, ca: trustme.CA) -> None:
    async def main() -> None:
        async with Server(lambda c: serve_forever(c, lambda h, b: ok_length(b"no")),
                          ssl=server_context(ca, "other.example")) as server:
            async with httpx.AsyncClient(transport=LeanTransport(verify=trusting(ca))) as http:
                with pytest.raises(httpx.ConnectError, match="certificate"):
                    await http.get(server.url(scheme="https", host="localhost"))
            async with httpx.AsyncClient(transport=LeanTransport()) as http:  # certifi's CAs only
                with pytest.raises(httpx.ConnectError, match="certificate"):
                    await http.get(server.url(scheme="https", host="localhost"))
            assert server.requests == []

    run(loop_name, main())


@LOOPS
def test_tls_verify_false_accepts_any_certificate(loop_name: str, ca: trustme.CA) -> None:
    async def main() -> None:
        async with Server(lambda c: serve_forever(c, lambda h, b: ok_length(b"anyway")),
                          ssl=server_context(ca, "other.example")) as server, \
                httpx.AsyncClient(transport=LeanTransport(verify=False)) as http:
            assert (await http.get(server.url(scheme="https", host="localhost"))).text == "anyway"

    run(loop_name, main())


@LOOPS
def test_a_slow_reader_stalls_the_servers_writes(loop_name: str) -> None:
    """A body far larger than the socket buffers: while the reader takes nothing, the client stops
    reading the socket and the server's writes stall, with at most one read past the high-water
    mark buffered here; then every byte arrives in order."""
    piece = bytes(range(256)) * 256  # 64 KiB
    pieces = 512  # 32 MiB in all

    async def handler(conn: ServerConn) -> None:
        await conn.request()
        conn.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (len(piece) * pieces))
        for _ in range(pieces):
            await conn.write_paced(piece)

    async def main() -> None:
        async with Server(handler) as server, httpx.AsyncClient(transport=LeanTransport()) as http:
            async with http.stream("GET", server.url()) as r:
                body = body_of(r)
                assert body is not None
                got = bytearray(await body.receive())
                conn = server.connections[0]
                await until(lambda: body.reading_paused and conn.paused, what="the client and the server to pause")
                assert body.queued <= HIGH_WATER + 256 * 1024
                while data := await body.receive():
                    got += data
            assert len(got) == len(piece) * pieces
            assert got == piece * pieces

    run(loop_name, main())


@LOOPS
def test_the_request_is_written_only_as_fast_as_the_server_reads(loop_name: str) -> None:
    """A server that never reads: a large request body waits on pause_writing, and the write
    timeout ends it as httpx's WriteTimeout."""
    async def handler(conn: ServerConn) -> None:
        assert conn.transport is not None
        conn.transport.pause_reading()
        await conn.closed.wait()

    async def main() -> None:
        async with Server(handler) as server, httpx.AsyncClient(transport=LeanTransport()) as http:
            with pytest.raises(httpx.WriteTimeout):
                await http.post(server.url(), content=b"x" * (64 * 2**20), timeout=httpx.Timeout(5.0, write=0.3))

    run(loop_name, main())


# -- split at every offset: the protocol fed directly, then over a real socket ------------------


class _FakeTransport:
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def abort(self) -> None: ...
    def is_closing(self) -> bool:
        return False


RESPONSES = {
    "chunked": (OK_CHUNKED + chunked(b'data: {"a": 1}\n\n', b"data: [DONE]\n\n"),
                b'data: {"a": 1}\n\ndata: [DONE]\n\n'),
    "content-length": (ok_length(b"0123456789abcdef"), b"0123456789abcdef"),
    "continue": (b"HTTP/1.1 100 Continue\r\n\r\n" + ok_length(b"xyz"), b"xyz"),
}


def feed(response: bytes, cuts: list[int]) -> tuple[Connection, bytes, int]:
    loop = asyncio.new_event_loop()
    try:
        conn = Connection(loop, (b"http", b"h", 80))
        conn.connection_made(_FakeTransport())  # type: ignore[arg-type]
        conn.begin(b"GET")
        for start, end in zip([0, *cuts], [*cuts, len(response)], strict=True):
            conn.data_received(response[start:end])
        items = list(conn._items)
        conn._items.clear()  # as if the reader took them all
        return conn, b"".join(items), len(items)
    finally:
        loop.close()


@pytest.mark.parametrize("name", RESPONSES)
def test_split_at_every_offset(name: str) -> None:
    response, body = RESPONSES[name]
    for cut in range(1, len(response)):
        conn, got, _ = feed(response, [cut])
        assert (conn.status, got, conn.reusable) == (200, body, True), cut


@pytest.mark.parametrize("name", RESPONSES)
def test_split_at_seeded_random_offsets(name: str) -> None:
    response, body = RESPONSES[name]
    rng = random.Random(18)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(response)), rng.randint(2, 8)))
        conn, got, _ = feed(response, cuts)
        assert (conn.status, got, conn.reusable) == (200, body, True), cuts


def test_one_item_per_socket_read() -> None:
    """Many HTTP chunks in one read are one item for the reader: one wake-up per read (a reader
    that lags gets the reads it missed joined, as the next test shows)."""
    response = OK_CHUNKED + chunked(*(b"data: %d\n\n" % i for i in range(50)))
    _, got, items = feed(response, [])
    assert items == 1 and got == b"".join(b"data: %d\n\n" % i for i in range(50))
    _, _, items = feed(response, [len(OK_CHUNKED) + 5, len(OK_CHUNKED) + 200])
    assert items == 3


def test_a_lagging_reader_gets_the_reads_it_missed_as_one_item() -> None:
    async def main() -> list[bytes]:
        conn = Connection(asyncio.get_running_loop(), (b"http", b"h", 80))
        conn.connection_made(_FakeTransport())  # type: ignore[arg-type]
        conn.begin(b"GET")
        conn.data_received(OK_CHUNKED + b"4\r\none \r\n")
        first = await conn.receive()
        conn.data_received(b"4\r\ntwo \r\n")
        conn.data_received(b"5\r\nthree\r\n0\r\n\r\n")
        return [first, await conn.receive(), await conn.receive()]

    assert asyncio.run(main()) == [b"one ", b"two three", b""]


@LOOPS
def test_split_at_every_offset_over_a_socket(loop_name: str) -> None:
    response, body = RESPONSES["chunked"]

    async def handler(conn: ServerConn) -> None:
        for cut in range(1, len(response)):
            await conn.request()
            conn.write(response[:cut])
            await asyncio.sleep(0)
            conn.write(response[cut:])

    async def main() -> None:
        async with Server(handler) as server, httpx.AsyncClient(transport=LeanTransport()) as http:
            for cut in range(1, len(response)):
                assert (await http.get(server.url())).content == body, cut
            assert len(server.connections) == 1

    run(loop_name, main())
