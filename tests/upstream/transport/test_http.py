"""The lean transport under httpx's own client, against real servers on loopback: framings,
keep-alive, closed and reset connections, errors as httpx's classes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from agui_proxy.upstream.transport import LeanTransport, body_of
from tests.support.upstream import RefusedPort, StalledPort

from .servers import OK_CHUNKED, Server, ServerConn, chunked, ok_length, run, serve_forever, until

pytestmark = pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])


def client(**kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=LeanTransport(**kwargs), trust_env=False)  # type: ignore[arg-type]


def test_chunked_and_content_length_bodies(loop_name: str) -> None:
    def answer(head: str, body: bytes) -> bytes:
        if head.startswith("POST /chunked"):
            return OK_CHUNKED + chunked(b"you sent ", body, b"", b"!")
        return ok_length(b"plain " + body)

    async def main() -> None:
        async with Server(lambda c: serve_forever(c, answer)) as server, client() as http:
            r = await http.post(server.url("/chunked"), content=b"abc")
            assert (r.status_code, r.text, r.http_version) == (200, "you sent abc!", "HTTP/1.1")
            r = await http.post(server.url("/length"), content=b"xyz")
            assert r.text == "plain xyz"
            assert r.headers["content-length"] == "9"
            assert len(server.connections) == 1  # kept alive and reused
            head = server.requests[0].lower()
            assert "host: 127.0.0.1:" in head and "content-length: 3" in head

    run(loop_name, main())


def test_streamed_request_body_is_sent_chunked(loop_name: str) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one ", b"", b"two"):
            yield part

    async def main() -> None:
        async with Server(lambda c: serve_forever(c, lambda h, b: ok_length(b))) as server, client() as http:
            r = await http.post(server.url(), content=parts())
            assert r.text == "one two"
            assert "transfer-encoding: chunked" in server.requests[0].lower()

    run(loop_name, main())


def test_a_server_closing_an_idle_pooled_connection(loop_name: str) -> None:
    """Closed while idle in the pool: the pool drops it and the next request opens a new one."""
    async def handler(conn: ServerConn) -> None:
        await conn.request()
        conn.write(ok_length(b"first"))
        conn.close()

    async def main() -> None:
        async with Server(handler) as server, client() as http:
            assert (await http.get(server.url())).text == "first"
            await asyncio.wait_for(server.connections[0].closed.wait(), 10)
            assert (await http.get(server.url())).text == "first"
            assert len(server.connections) == 2

    run(loop_name, main())


def test_a_kept_alive_connection_closed_as_it_is_reused(loop_name: str) -> None:
    """The race of RFC 9112 9.6: the server closes the connection on the next request without a
    byte of answer.  A request whose body can be sent again goes again on a fresh connection; a
    streamed one cannot, and fails as httpx's RemoteProtocolError."""
    async def handler(conn: ServerConn) -> None:
        await conn.request()
        conn.write(ok_length(b"first"))
        await conn.request()
        conn.close()

    async def streamed() -> AsyncIterator[bytes]:
        yield b"once"

    async def main() -> None:
        async with Server(handler) as server, client() as http:
            assert (await http.post(server.url(), content=b"a")).text == "first"
            assert (await http.post(server.url(), content=b"b")).text == "first"
            assert len(server.connections) == 2
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(server.url(), content=streamed())

    run(loop_name, main())


def test_connect_refused_and_connect_timeout(loop_name: str) -> None:
    async def main() -> None:
        with RefusedPort() as refused:
            async with client() as http:
                with pytest.raises(httpx.ConnectError):
                    await http.get(refused.url)
        with StalledPort() as stalled:
            async with client() as http:
                with pytest.raises(httpx.ConnectTimeout):
                    await http.get(stalled.url, timeout=httpx.Timeout(1.0, connect=0.2))

    run(loop_name, main())


@pytest.mark.parametrize("how", ["reset", "close"])
def test_connection_lost_mid_body(loop_name: str, how: str) -> None:
    """A reset mid-body is a ReadError; a clean close before the announced end is a
    RemoteProtocolError (as httpx's stock transport says)."""
    async def handler(conn: ServerConn) -> None:
        await conn.request()
        conn.write(OK_CHUNKED + b"5\r\nhello\r\n")
        await conn.request()  # never comes: the test's signal is the client's read

    async def main() -> None:
        async with Server(handler) as server, client() as http:
            async with http.stream("GET", server.url()) as r:
                chunks = r.aiter_raw()
                assert await chunks.__anext__() == b"hello"
                conn = server.connections[0]
                conn.reset() if how == "reset" else conn.close()
                error = httpx.ReadError if how == "reset" else httpx.RemoteProtocolError
                with pytest.raises(error):
                    await chunks.__anext__()

    run(loop_name, main())


def test_no_response_at_all_is_a_remote_protocol_error(loop_name: str) -> None:
    async def handler(conn: ServerConn) -> None:
        await conn.request()
        conn.close()

    async def main() -> None:
        async with Server(handler) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                await http.get(server.url())

    run(loop_name, main())


def test_malformed_response_is_a_remote_protocol_error(loop_name: str) -> None:
    async def main() -> None:
        async with Server(lambda c: serve_forever(c, lambda h, b: b"HTTP/1.1 2OO OK\r\n\r\n")) as server, \
                client() as http:
            with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
                await http.get(server.url())

    run(loop_name, main())


def test_100_continue_then_the_answer(loop_name: str) -> None:
    async def main() -> None:
        answer = b"HTTP/1.1 100 Continue\r\n\r\n" + ok_length(b"after continue")
        async with Server(lambda c: serve_forever(c, lambda h, b: answer)) as server, client() as http:
            for _ in range(2):
                r = await http.post(server.url(), content=b"x")
                assert (r.status_code, r.text) == (200, "after continue")
            assert len(server.connections) == 1

    run(loop_name, main())


def test_http_1_0_answers(loop_name: str) -> None:
    """An HTTP/1.0 answer: a body to the end of the connection, and no reuse of it."""
    async def until_close(conn: ServerConn) -> None:
        await conn.request()
        conn.write(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nto the ")
        conn.write(b"end of the connection")
        conn.close()

    async def main() -> None:
        async with Server(until_close) as server, client() as http:
            for _ in range(2):
                r = await http.get(server.url())
                assert (r.http_version, r.text) == ("HTTP/1.0", "to the end of the connection")
            assert len(server.connections) == 2
        answer = b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"
        async with Server(lambda c: serve_forever(c, lambda h, b: answer)) as server, client() as http:
            for _ in range(2):
                assert (await http.get(server.url())).text == "ok"
            assert len(server.connections) == 2  # HTTP/1.0 without keep-alive closes after each

    run(loop_name, main())


def test_no_body_answers_keep_the_connection(loop_name: str) -> None:
    def answer(head: str, body: bytes) -> bytes:
        if head.startswith("HEAD"):
            return b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"
        return b"HTTP/1.1 204 No Content\r\n\r\n"

    async def main() -> None:
        async with Server(lambda c: serve_forever(c, answer)) as server, client() as http:
            r = await http.delete(server.url())
            assert (r.status_code, r.content) == (204, b"")
            r = await http.delete(server.url())
            assert len(server.connections) == 1
            r = await http.head(server.url())
            assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "1000")

    run(loop_name, main())


def test_a_response_closed_early_closes_its_connection(loop_name: str) -> None:
    async def handler(conn: ServerConn) -> None:
        while True:
            await conn.request()
            conn.write(OK_CHUNKED + b"5\r\nfirst\r\n")  # and never the end

    async def main() -> None:
        async with Server(handler) as server, client() as http:
            async with http.stream("GET", server.url()) as r:
                assert await r.aiter_raw().__anext__() == b"first"
            await asyncio.wait_for(server.connections[0].closed.wait(), 10)
            async with http.stream("GET", server.url()) as r:
                assert await r.aiter_raw().__anext__() == b"first"
            assert len(server.connections) == 2

    run(loop_name, main())


def test_read_timeout(loop_name: str) -> None:
    async def handler(conn: ServerConn) -> None:
        await conn.request()
        conn.write(OK_CHUNKED + b"2\r\nhi\r\n")
        await conn.request()

    async def main() -> None:
        async with Server(handler) as server, client() as http:
            async with http.stream("GET", server.url(), timeout=httpx.Timeout(5.0, read=0.2)) as r:
                body = body_of(r)
                assert body is not None and await body.receive() == b"hi"
                with pytest.raises(httpx.ReadTimeout):
                    await body.receive()

    run(loop_name, main())


def test_a_header_with_a_line_break_is_refused(loop_name: str) -> None:
    async def main() -> None:
        async with Server(lambda c: serve_forever(c, lambda h, b: ok_length(b""))) as server, client() as http:
            with pytest.raises(httpx.LocalProtocolError):
                await http.get(server.url(), headers={"x-evil": "a\r\nx-injected: 1"})
            assert server.requests == []

    run(loop_name, main())


def test_only_http_and_https(loop_name: str) -> None:
    async def main() -> None:
        async with client() as http:
            with pytest.raises(httpx.UnsupportedProtocol):
                await http.get("ftp://127.0.0.1/")

    run(loop_name, main())


def test_many_streams_at_once_share_nothing(loop_name: str) -> None:
    """200 streams open at once, each its own connection, each body its own; then all pooled
    connections are reused."""
    async def main() -> None:
        gate = asyncio.Event()

        async def handler(conn: ServerConn) -> None:
            while True:
                head, _ = await conn.request()
                tag = head.split(" ")[1].encode()
                await gate.wait()
                conn.write(OK_CHUNKED + chunked(tag, b"-end"))

        async with Server(handler) as server, client() as http:
            tasks = [asyncio.ensure_future(http.get(server.url(f"/{i}"))) for i in range(200)]
            await until(lambda: len(server.requests) == 200, what="200 requests in")
            gate.set()
            results = await asyncio.gather(*tasks)
            assert [r.text for r in results] == [f"/{i}-end" for i in range(200)]
            assert len(server.connections) == 200
            await asyncio.gather(*(http.get(server.url(f"/{i}")) for i in range(100)))
            assert len(server.connections) == 200  # 100 kept idle (the default) and reused

    run(loop_name, main())
