"""The real proxy in front of an HTTPS upstream whose certificate a test CA (trustme) signed, on
both upstream transports: trusted through ``upstream_tls.ca_file``, refused without it (certifi's
CAs only) and with a certificate for another host, accepted with ``verify: false``."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from ..support.openai_chat_streams import MODEL, TEXT, text_transcript
from ..support.proxy import post, sse_events, sse_run_error, start_proxy

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]


def _sse_body() -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in text_transcript()) + b"data: [DONE]\n\n"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = _sse_body()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _https_upstream(ca: trustme.CA, name: str) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def good_upstream(ca: trustme.CA) -> Iterator[str]:
    yield from _https_upstream(ca, "localhost")


@pytest.fixture(scope="module")
def wrong_host_upstream(ca: trustme.CA) -> Iterator[str]:
    yield from _https_upstream(ca, "other.example")


def _config(base_url: str, transport: str, tls: dict[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "upstreams": {"tls": {"provider": "openai-chat", "base_url": base_url, "api_key": "sk-tls-test",
                              "model": MODEL, "retries": {"max": 0}}},
        "routes": [{"path": "/api/agent", "upstream": "tls"}],
        "upstream_transport": transport,
    }
    if tls is not None:
        config["upstream_tls"] = tls
    return config


def _run(tmp_path: Path, config: dict[str, Any]) -> Any:
    with start_proxy(tmp_path, config) as proxy:
        return post(f"{proxy.url}/api/agent", {"params": {"messages": [{"role": "user", "content": "hi"}]}})


TRANSPORTS = pytest.mark.parametrize("transport", ["lean", "httpx"])


@TRANSPORTS
def test_a_private_ca_is_trusted_through_ca_file(tmp_path: Path, ca: trustme.CA, good_upstream: str,
                                                 transport: str) -> None:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    reply = _run(tmp_path, _config(good_upstream, transport, {"ca_file": "ca.pem"}))
    events = sse_events(reply, "sk-tls-test")
    assert "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT") == TEXT
    assert events[-1]["type"] == "RUN_FINISHED"


@TRANSPORTS
def test_an_unknown_ca_and_a_wrong_host_are_refused(tmp_path: Path, ca: trustme.CA, good_upstream: str,
                                                    wrong_host_upstream: str, transport: str) -> None:
    sse_run_error(_run(tmp_path, _config(good_upstream, transport, None)), "upstream_unavailable")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    sse_run_error(_run(tmp_path, _config(wrong_host_upstream, transport, {"ca_file": "ca.pem"})),
                  "upstream_unavailable")


@TRANSPORTS
def test_verify_false_skips_the_check(tmp_path: Path, wrong_host_upstream: str, transport: str) -> None:
    events = sse_events(_run(tmp_path, _config(wrong_host_upstream, transport, {"verify": False})))
    assert events[-1]["type"] == "RUN_FINISHED"
