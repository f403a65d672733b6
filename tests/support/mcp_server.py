"""A real MCP server for the server-side tools' tests: the SDK's own Streamable HTTP app
(tests/tools/mcp_tool_server.py) served by uvicorn on a free loopback port, in a background
thread with its own event loop; and the stdio command of the same server.

    with MCPHTTPServer() as server:      # server.url is its /mcp endpoint
        ...                              # point the proxy's mcp_servers at server.url
        server.stop()                    # it goes away (a test of a server that is down)

:func:`wait_tools_ready` waits until the proxy's ``/readyz`` says every MCP server is connected
(the proxy connects in the background after it starts).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from .proxy import ProxyProcess, eventually

HOST = "127.0.0.1"
SERVER_SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "mcp_tool_server.py"
STDIO_COMMAND = [sys.executable, str(SERVER_SCRIPT)]


class MCPHTTPServer:
    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, 0))
        self.port = int(self._sock.getsockname()[1])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/mcp"

    def __enter__(self) -> MCPHTTPServer:
        from ..tools.mcp_tool_server import http_app  # the SDK is a test dependency (the mcp extra)

        # A short graceful shutdown: the proxy holds a listening stream open on the server.
        config = uvicorn.Config(http_app(), log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="mcp-server", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the MCP server did not start")
        return self

    def _serve(self) -> None:
        assert self._server is not None

        async def serve() -> None:
            assert self._server is not None
            task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
            while not self._server.started and not task.done():
                await asyncio.sleep(0.01)
            self._started.set()
            await task

        asyncio.run(serve())

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None
            self._sock.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def readyz(proxy: ProxyProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{proxy.url}/readyz", timeout=5).json()
    return body


def wait_tools_ready(proxy: ProxyProcess, timeout: float = 20.0) -> dict[str, Any]:
    """``/readyz`` once every MCP server of the proxy is connected."""
    return eventually(lambda: readyz(proxy),
                      lambda body: all(s["state"] == "connected" for s in body.get("mcp_servers", {}).values()),
                      "every MCP server connected", timeout)
