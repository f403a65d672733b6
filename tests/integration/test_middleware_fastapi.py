"""The proxy inside a real FastAPI app served by uvicorn on 127.0.0.1 (tests/integration/fastapi_app.py).

As middleware: the app's own routes still work (JSON, a streamed response, a WebSocket), the
proxied route streams from a scripted upstream, and both lifespans run: the app's, and the
proxy's (its upstream client opened at startup, closed at shutdown).  Mounted: the standalone
app serves its routes below the mount point.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from starlette.types import ASGIApp
from websockets.sync.client import connect

from agui_proxy import AGUIProxyMiddleware, load_config

from ..support.agui_check import assert_valid_run, parse_frames, text_of
from ..support.openai_chat_streams import MODEL, TEXT, TEXT_PIECES, text_transcript
from ..support.proxy import HOST, free_port, open_stream, post
from ..support.upstream import SSE_HEADERS, End, ScriptedUpstream, Status, WaitFor, sse_response, sse_steps
from .fastapi_app import app_with_middleware, app_with_mount

pytestmark = pytest.mark.integration

KEY = "sk-middleware-SECRET-31337"
RUN_INPUT = {"threadId": "thread-mw", "runId": "run-mw",
             "messages": [{"id": "u1", "role": "user", "content": "What is the weather in Paris?"}]}


class ServedApp:
    """An ASGI app served by uvicorn in a thread, with its lifespan, until :meth:`stop`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(app, host=HOST, port=self.port, lifespan="on", ws="websockets-sansio",
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> ServedApp:
        self.thread.start()
        for _ in range(1000):
            if self.server.started or not self.thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert self.server.started, "uvicorn did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive(), "uvicorn did not stop"


def write_config(directory: Path, upstream: ScriptedUpstream) -> Path:
    path = directory / "agui-proxy.yaml"
    path.write_text(yaml.safe_dump({
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": KEY,
                                 "model": MODEL}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }), "utf-8")
    return path


def find_proxy(app: Any) -> AGUIProxyMiddleware:
    """The middleware instance Starlette built into the app's stack at startup."""
    node = app.middleware_stack
    while node is not None and not isinstance(node, AGUIProxyMiddleware):
        node = getattr(node, "app", None)
    assert isinstance(node, AGUIProxyMiddleware), "the proxy is not in the app's middleware stack"
    return node


@pytest.fixture
def served(upstream: ScriptedUpstream, tmp_path: Path) -> Iterator[Callable[..., ServedApp]]:
    running: list[ServedApp] = []

    def serve(build: Callable[..., Any], config: Any, lifecycle: list[str]) -> ServedApp:
        app = ServedApp(build(config, lifecycle)).start()
        running.append(app)
        return app

    yield serve
    for app in running:
        if app.thread.is_alive():
            app.stop()


def test_middleware_in_a_fastapi_app(served: Callable[..., ServedApp], up: ScriptedUpstream, tmp_path: Path) -> None:
    lifecycle: list[str] = []
    app = served(app_with_middleware, write_config(tmp_path, up), lifecycle)

    # Both lifespans ran at startup: the app's, and the proxy's (its upstream client is open).
    assert lifecycle == ["startup"]
    proxy = find_proxy(app.app)
    client = proxy.http_client
    assert isinstance(client, httpx.AsyncClient) and not client.is_closed

    with httpx.Client(base_url=app.url, trust_env=False, timeout=10) as http:
        # The app's own routes, untouched: JSON, a streamed body, its 404.
        health = http.get("/api/health")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        with http.stream("GET", "/api/count") as counted:
            assert counted.status_code == 200 and "content-length" not in counted.headers
            assert b"".join(counted.iter_raw()) == b"0\n1\n2\n3\n4\n"
        missing = http.get("/nowhere")
        assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
        # The proxy owns its route: a GET there is its 405, not the app's.
        assert http.get("/api/agent").status_code == 405

    with connect(f"ws://{HOST}:{app.port}/ws/echo", open_timeout=5, close_timeout=5) as websocket:
        websocket.send("hello")
        assert websocket.recv(timeout=5) == "echo: hello"
        websocket.send("again")
        assert websocket.recv(timeout=5) == "echo: again"

    # The proxied route streams: text reaches the client while the upstream is held mid-answer.
    release = threading.Event()
    transcript = text_transcript()
    up.script(Status(200, SSE_HEADERS), sse_steps(transcript[:2], done=False), WaitFor(release),
              sse_steps(transcript[2:]), End())
    try:
        with open_stream(app.url + "/api/agent", RUN_INPUT, timeout=10) as reader:
            first = reader.until("TEXT_MESSAGE_CONTENT")
            assert first["delta"] == TEXT_PIECES[0] and not release.is_set()
            release.set()
            events, done = parse_frames(reader.rest())
    finally:
        release.set()
    assert_valid_run(events)
    assert not done  # a RunAgentInput body: no data: [DONE]
    assert text_of(events) == TEXT
    assert proxy.http_client is client  # the lifespan's client served it
    assert up.requests[0].headers["authorization"] == f"Bearer {KEY}"

    app.stop()
    # Both lifespans ran at shutdown: the app's, and the proxy's (its client is closed).
    assert lifecycle == ["startup", "shutdown"]
    assert proxy.http_client is None and client.is_closed


def test_mounted_standalone_app(served: Callable[..., ServedApp], up: ScriptedUpstream, tmp_path: Path) -> None:
    lifecycle: list[str] = []
    config = load_config(write_config(tmp_path, up))  # a config object this time, not a path
    app = served(app_with_mount, config, lifecycle)
    up.script(sse_response(text_transcript()))
    reply = post(app.url + "/agui/api/agent", RUN_INPUT)
    assert reply.status == 200, reply.body
    events, done = reply.frames
    assert_valid_run(events)
    assert text_of(events) == TEXT and not done
    assert post(app.url + "/api/agent", RUN_INPUT).status == 404  # only below the mount point
    (mount,) = [route for route in app.app.routes if getattr(route, "path", None) == "/agui"]
    proxy = mount.app
    assert isinstance(proxy, AGUIProxyMiddleware)
    client = proxy.http_client  # opened on first use: mounted apps get no lifespan
    assert client is not None and not client.is_closed
    app.stop()
    assert lifecycle == ["startup", "shutdown"]
    assert proxy.http_client is None and client.is_closed  # closed by the app's own lifespan


def test_route_paths_are_relative_to_the_root_path() -> None:
    from agui_proxy.app.proxy import route_path

    assert route_path({"path": "/api/agent"}) == "/api/agent"
    assert route_path({"path": "/agui/api/agent", "root_path": "/agui"}) == "/api/agent"
    assert route_path({"path": "/agui", "root_path": "/agui"}) == "/"
    assert route_path({"path": "/aguix/api/agent", "root_path": "/agui"}) == "/aguix/api/agent"
    assert route_path({"path": "/api/agent", "root_path": "/agui"}) == "/api/agent"


def test_lifespan_of_an_app_without_lifespan_support_closes_the_client(tmp_path: Path) -> None:
    """An app that refuses the lifespan scope: the proxy's client is closed, the error goes on."""

    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "no lifespan here"

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"upstreams": {"o": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9",
                                                          "model": "m"}},
                                      "routes": [{"path": "/a", "upstream": "o"}]}), "utf-8")
    proxy = AGUIProxyMiddleware(http_only, config=config)
    sent: list[Any] = []

    async def lifespan() -> None:
        messages = iter([{"type": "lifespan.startup"}])

        async def receive() -> Any:
            return next(messages)

        async def send(message: Any) -> None:
            sent.append(message)

        with pytest.raises(AssertionError, match="no lifespan here"):
            await proxy({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

    asyncio.run(lifespan())
    assert proxy.http_client is None and sent == []
