"""/healthz and /readyz in each state of the app: before startup, ready, shutting down, stopped.

A real server accepts no connection before the lifespan startup has finished, and none after it
began to stop, so these states are reached by driving the app's ASGI interface directly.  The
probes through the real CLI are in tests/integration/test_operations.py.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from starlette.types import Receive, Scope, Send

from agui_proxy import AGUIProxyMiddleware, create_app
from agui_proxy.config import config_from_dict

from ..support.asgi import Lifespan, request

TOKEN = "probe-test-token-0123456789"


def config(**sections: Any) -> Any:
    return config_from_dict({
        "auth": {"bearer_tokens": [TOKEN]},
        "upstreams": {"demo": {"provider": "replay"}},
        "routes": [{"path": "/api/agent", "upstream": "demo"}],
        **sections,
    }, env={})


async def readyz(app: Any) -> tuple[int, dict[str, Any]]:
    reply = await request(app, "GET", "/readyz")
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["cache-control"] == "no-store"
    body: dict[str, Any] = reply.json()
    return reply.status, body


async def healthz(app: Any) -> int:
    reply = await request(app, "GET", "/healthz")
    assert reply.json() == {"status": "ok"}
    return reply.status


def test_each_state_of_the_standalone_app() -> None:
    app = create_app(config())

    async def main() -> None:
        # Before the lifespan startup: the process is alive, but there is no HTTP client yet.
        assert await healthz(app) == 200
        assert await readyz(app) == (503, {"status": "not_ready",
                                           "checks": {"config": True, "http_client": False, "accepting": True}})
        async with anyio.create_task_group() as tg:
            lifespan = Lifespan(app, tg)
            await lifespan.startup()
            assert await readyz(app) == (200, {"status": "ready",
                                               "checks": {"config": True, "http_client": True, "accepting": True}})
            assert await healthz(app) == 200

            # A SIGTERM handler (or anything that starts a graceful stop) says so first.
            app.begin_shutdown()
            assert await readyz(app) == (503, {"status": "shutting_down",
                                               "checks": {"config": True, "http_client": True, "accepting": False}})
            assert await healthz(app) == 200, "a stopping process is still alive: no restart"

            await lifespan.send_shutdown()
            await lifespan.shutdown_complete()
        status, body = await readyz(app)
        assert (status, body["status"]) == (503, "shutting_down")
        assert body["checks"]["http_client"] is False

    anyio.run(main)


def test_lifespan_shutdown_alone_makes_it_not_ready() -> None:
    """Without begin_shutdown: the lifespan's shutdown message is enough."""

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        assert (await receive())["type"] == "lifespan.shutdown"
        await release.wait()  # the wrapped app takes its time to stop
        await send({"type": "lifespan.shutdown.complete"})

    release = anyio.Event()
    app = AGUIProxyMiddleware(inner, config(probes={"enabled": True}))  # in front of an app: asked for

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            lifespan = Lifespan(app, tg)
            await lifespan.startup()
            assert (await readyz(app))[0] == 200
            await lifespan.send_shutdown()
            # The wrapped app is still stopping: the proxy already reports it.
            with anyio.fail_after(5):
                while (state := await readyz(app))[0] == 200:
                    await anyio.sleep(0.005)
            assert state == (503, {"status": "shutting_down",
                                   "checks": {"config": True, "http_client": True, "accepting": False}})
            release.set()
            await lifespan.shutdown_complete()

    anyio.run(main)


def test_probes_need_no_token_and_take_only_get() -> None:
    app = create_app(config())

    async def main() -> None:
        assert (await request(app, "GET", "/healthz")).status == 200
        head = await request(app, "HEAD", "/healthz")
        assert (head.status, head.body) == (200, b"")
        assert int(head.headers["content-length"]) == len(b'{"status": "ok"}')
        post = await request(app, "POST", "/readyz")
        assert post.status == 405 and post.headers["allow"] == "GET, HEAD"
        assert post.json()["error"]["type"] == "method_not_allowed"
        # The routes still want the token.
        assert (await request(app, "POST", "/api/agent", body=b"{}")).status == 401

    anyio.run(main)


def test_probe_paths_are_configurable_and_can_be_turned_off() -> None:
    moved = create_app(config(probes={"liveness_path": "/live", "readiness_path": "/ready"}))
    off = create_app(config(probes={"enabled": False}, metrics={"enabled": False}))

    async def main() -> None:
        assert (await request(moved, "GET", "/live")).status == 200
        assert (await request(moved, "GET", "/healthz")).status == 404
        for path in ("/healthz", "/readyz", "/metrics"):
            reply = await request(off, "GET", path)
            assert reply.status == 404, path
            assert reply.json()["error"]["type"] == "not_found"

    anyio.run(main)


@pytest.mark.parametrize("configured", [True, False])
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_a_wrapped_app_gets_everything_else(path: str, configured: bool) -> None:
    """Middleware mode: the proxy's probes and /metrics answer only where the config has their
    section (else they would land on the app's public paths); the app's own paths are untouched."""
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"inner"})

    sections = {"probes": {"enabled": True}, "metrics": {"path": "/metrics"}} if configured else {}
    app = AGUIProxyMiddleware(inner, config(**sections))

    async def main() -> None:
        reply = await request(app, "GET", path)
        if configured:
            assert reply.status in (200, 503) and reply.body != b"inner"
        else:
            assert reply.body == b"inner"
        assert (await request(app, "GET", "/status")).body == b"inner"

    anyio.run(main)
    assert seen == ["/status"] if configured else [path, "/status"]
