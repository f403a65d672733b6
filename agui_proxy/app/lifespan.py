"""The ASGI lifespan of the proxy: the shared upstream client opened at startup and closed at
shutdown, around the wrapped app's own lifespan (if there is one).

Where no lifespan reaches the proxy (an app mounted in Starlette), the client opens on first use
and the app that mounted it closes it (``AGUIProxyMiddleware.aclose``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Config
from ..upstream.client import new_client


class SharedClient:
    """The one ``httpx.AsyncClient`` of an app (pooled connections to the upstreams), on the
    transport the config names (``upstream_transport``, ``upstream_tls``: upstream/client.py)."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config
        self.current: httpx.AsyncClient | None = None

    @property
    def is_open(self) -> bool:
        return self.current is not None and not self.current.is_closed

    def get(self) -> httpx.AsyncClient:
        """The client, opened now if it is not yet (served without a lifespan)."""
        if self.current is None:
            self.current = new_client(self.config)
        return self.current

    async def aclose(self) -> None:
        if self.current is not None:
            client, self.current = self.current, None
            await client.aclose()


class Lifespan:
    """Runs ``started`` at startup, ``stopping`` when the shutdown message arrives and ``aclose``
    once the app's own shutdown is over (or its startup failed, or it has no lifespan at all)."""

    def __init__(self, app: ASGIApp | None, *, started: Callable[[], None], stopping: Callable[[], None],
                 aclose: Callable[[], Awaitable[None]]) -> None:
        self.app = app
        self.started = started
        self.stopping = stopping
        self.aclose = aclose

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            await self._alone(receive, send)
            return

        async def wrapped_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.started()
            elif message["type"] == "lifespan.shutdown":
                self.stopping()
            return message

        async def wrapped_send(message: Message) -> None:
            if message["type"] in ("lifespan.startup.failed", "lifespan.shutdown.complete",
                                   "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        try:
            await self.app(scope, wrapped_receive, wrapped_send)
        except BaseException:
            # An app without lifespan support raises here (the server then carries on without
            # one): the client opened for it must not be left open.
            await self.aclose()
            raise

    async def _alone(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.started()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stopping()
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
