"""Requests that arrive slowly, never, or without end: bodies trickled a byte at a time, headers
never finished, connections opened and left idle, headers too large or too many.  None of them may
hold a stream slot, a connection or memory for long.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from ..support.agui_check import text_of
from ..support.openai_chat_streams import MODEL, TEXT, text_transcript
from ..support.proxy import HOST, ProxyProcess, ProxySetup, post, sse_events
from ..support.upstream import ScriptedUpstream, sse_response

pytestmark = pytest.mark.integration

TOKEN = "test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
BODY = b'{"params": {"messages": [{"role": "user", "content": "Hi"}]}}'
BODY_TIMEOUT = 0.5
HEADER_TIMEOUT = 0.5
MAX_HEADER_BYTES = 8192
MAX_HEADERS = 30
STACKS = [pytest.param(("uvloop", "httptools"), id="uvloop-httptools"),
          pytest.param(("asyncio", "h11"), id="asyncio-h11")]


@pytest.fixture(scope="module", params=STACKS)
def proxy_setup(request: pytest.FixtureRequest, upstream: ScriptedUpstream) -> ProxySetup:
    loop, http = request.param
    config: dict[str, Any] = {
        "server": {"header_timeout": HEADER_TIMEOUT},
        "auth": {"bearer_tokens": [TOKEN]},
        "limits": {"body_timeout": BODY_TIMEOUT, "max_header_bytes": MAX_HEADER_BYTES, "max_headers": MAX_HEADERS},
        "streams": {"max_concurrent": 1},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "sk-test",
                                 "model": MODEL, "retries": 0}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }
    return ProxySetup(config, extra_args=["--loop", loop, "--http", http])


def connect(proxy: ProxyProcess, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection((HOST, proxy.port), timeout=timeout)


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the proxy sends until it closes the connection (the socket's timeout bounds it)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def head(length: int, headers: dict[str, str] = AUTH) -> bytes:
    lines = ["POST /api/agent HTTP/1.1", f"host: {HOST}", "content-type: application/json",
             f"content-length: {length}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_slow_body_gets_408_and_holds_no_stream_slot(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    with connect(proxy) as slow:
        slow.sendall(head(len(BODY)) + BODY[:1])  # one byte of the body, then nothing
        # The only stream slot (max_concurrent: 1) is free for a request whose body is complete.
        up.script(sse_response(text_transcript()))
        assert text_of(sse_events(post(proxy.url + "/api/agent", BODY, headers=AUTH))) == TEXT
        reply = read_to_close_or_response(slow)
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408"), reply
    assert b"content-type: application/json" in rest.lower()
    assert b'"type": "body_timeout"' in rest and b"limits.body_timeout" in rest, rest


def read_to_close_or_response(sock: socket.socket) -> bytes:
    """The proxy's answer: up to its end (a Content-Length body) or the connection's close."""
    received = b""
    while True:
        head_end = received.find(b"\r\n\r\n")
        if head_end != -1:
            for line in received[:head_end].split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    if len(received) >= head_end + 4 + int(line.split(b":")[1]):
                        return received
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


@pytest.mark.parametrize("sent", [b"", b"POST /api/agent HTTP/1.1\r\nhost: 127.0.0.1\r\nx-drip: 1"],
                         ids=["idle", "header-dripper"])
def test_connections_without_complete_headers_are_closed(proxy: ProxyProcess, sent: bytes) -> None:
    with connect(proxy) as sock:
        sock.sendall(sent)
        # recv returns b"" once the proxy closed it; the socket's own timeout (10 s) fails the test.
        assert read_to_close(sock) == b""
    output = proxy.output()
    assert "Traceback" not in output and "Exception in ASGI application" not in output


def test_a_connection_kept_alive_between_requests_is_closed_when_idle(proxy: ProxyProcess,
                                                                     up: ScriptedUpstream) -> None:
    """After a complete response the connection waits for the next request's headers, within the limit."""
    up.script(sse_response(text_transcript()))
    with connect(proxy) as sock:
        sock.sendall(head(len(BODY)) + BODY)
        received = b""
        while not received.endswith(b"0\r\n\r\n"):
            received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 200")
        assert read_to_close(sock) == b""


def send_in_background(sock: socket.socket, data: bytes) -> threading.Thread:
    """Send ``data`` from a thread (the proxy may answer, and close, before it has read it all)."""
    def send() -> None:
        try:
            sock.sendall(data)
        except OSError:  # the proxy refused the request and closed: what is under test
            pass
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


@pytest.mark.parametrize("size", [MAX_HEADER_BYTES + 1, 1024 * 1024], ids=["just-past", "1MB"])
def test_headers_past_max_header_bytes_get_431(proxy: ProxyProcess, size: int) -> None:
    """A header that never ends within the limit is refused before it is all read: 431, then closed."""
    with connect(proxy) as sock:
        sender = send_in_background(sock, head(len(BODY), {**AUTH, "x-big": "a" * size}) + BODY)
        reply = read_to_close_or_response(sock)
        sender.join(10)
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 431"), reply[:300]
    assert b'"type": "headers_too_large"' in rest and b"limits.max_header_bytes" in rest, rest
    assert post(proxy.url + "/healthz", b"", method="GET").status == 200
    output = proxy.output()
    assert "Traceback" not in output and "Exception in ASGI application" not in output


def test_headers_within_max_header_bytes_are_served(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    headers = {**AUTH, "x-big": "a" * (MAX_HEADER_BYTES - 1024)}
    assert text_of(sse_events(post(proxy.url + "/api/agent", BODY, headers=headers))) == TEXT


def test_more_headers_than_max_headers_get_431(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    many = {f"x-h{i}": "1" for i in range(MAX_HEADERS)}
    with connect(proxy) as sock:
        sock.sendall(head(len(BODY), {**AUTH, **many}) + BODY)
        reply = read_to_close_or_response(sock)
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 431"), reply[:300]
    assert b'"type": "headers_too_large"' in rest and b"limits.max_headers" in rest, rest
    assert not up.requests
