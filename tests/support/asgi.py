"""Drive an ASGI app in-process: one HTTP request, and the lifespan protocol step by step.

For the states a real server never lets a client see (before the lifespan startup, between the
shutdown message and the end), the app is called directly with ASGI messages.  Run the
coroutines with ``anyio.run``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup
from starlette.types import ASGIApp, Message


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def request(app: ASGIApp, method: str, path: str, *, headers: Iterable[tuple[str, str]] = (),
                  body: bytes = b"") -> Response:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []
    request_sent = False

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(10):
        await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers_out: dict[str, str] = {}
    for name, value in start.get("headers", []):
        headers_out[name.decode("latin-1")] = value.decode("latin-1")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Response(start["status"], headers_out, data)


class Lifespan:
    """Runs an app's lifespan in a task; :meth:`startup` and :meth:`shutdown` wait for its answers."""

    def __init__(self, app: ASGIApp, tg: TaskGroup) -> None:
        self._to_app, self._app_in = anyio.create_memory_object_stream[Message](4)
        self._app_out, self._from_app = anyio.create_memory_object_stream[Message](4)
        tg.start_soon(app, {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                      self._app_in.receive, self._app_out.send)

    async def startup(self) -> None:
        await self._to_app.send({"type": "lifespan.startup"})
        with anyio.fail_after(10):
            assert (await self._from_app.receive())["type"] == "lifespan.startup.complete"

    async def send_shutdown(self) -> None:
        await self._to_app.send({"type": "lifespan.shutdown"})

    async def shutdown_complete(self) -> None:
        with anyio.fail_after(10):
            assert (await self._from_app.receive())["type"] == "lifespan.shutdown.complete"
        for stream in (self._to_app, self._app_in, self._app_out, self._from_app):
            stream.close()
