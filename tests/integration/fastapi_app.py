"""The examples of docs/library.md ("Use as a library / ASGI middleware"), as the middleware tests serve them.

``lifecycle`` records what the app's own lifespan did, so a test can see it ran.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from agui_proxy import AGUIProxyMiddleware, Config, create_app


def app_with_middleware(config: Config | str | os.PathLike[str], lifecycle: list[str]) -> FastAPI:
    """Your FastAPI app, with the proxy's routes served in front of it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lifecycle.append("startup")  # your own startup (a database pool, ...)
        yield
        lifecycle.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(AGUIProxyMiddleware, config=config)

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/count")
    async def count() -> StreamingResponse:
        async def numbers() -> AsyncIterator[str]:
            for i in range(5):
                yield f"{i}\n"

        return StreamingResponse(numbers(), media_type="text/plain")

    @app.websocket("/ws/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(f"echo: {await websocket.receive_text()}")
        except WebSocketDisconnect:
            pass

    return app


def app_with_mount(config: Config | str | os.PathLike[str], lifecycle: list[str]) -> FastAPI:
    """The standalone proxy app mounted under ``/agui``.  Starlette runs no lifespan for mounted
    apps, so the app's own lifespan closes the proxy's upstream client."""
    proxy = create_app(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lifecycle.append("startup")
        yield
        await proxy.aclose()
        lifecycle.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    app.mount("/agui", proxy)
    return app


def middleware_app_from_env() -> FastAPI:
    """The middleware example for a server started on its own (``uvicorn --factory``): the
    proxy's config file is named by ``AGUI_TEST_CONFIG``."""
    return app_with_middleware(os.environ["AGUI_TEST_CONFIG"], [])
