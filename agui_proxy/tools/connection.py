"""One MCP server, connected through the official SDK and kept connected.

A task of its own owns the connection (the SDK's client is entered and left in one task, as
anyio's cancel scopes require): it connects (Streamable HTTP with the configured headers, or
stdio: the proxy starts the server's process and stops it at shutdown), lists the tools, then
waits.  When the server says its tool list changed (a ``subscriptions/listen`` stream on
2026-07-28 connections, the ``notifications/tools/list_changed`` notification on older ones) it
lists them again.  When the server cannot be reached, or goes away, it tries again after a
backoff (0.5 s doubling to 30 s), logging each failure: a server that is down never stops the
proxy, and ``/readyz`` and ``agui-proxy check`` say which one it is.

Tool calls come from the runs' own tasks (:meth:`MCPConnection.call`), each bounded by the
server's ``timeout`` and ``max_result_bytes``.  The identity reaches the server when
``forward_identity`` asks: in a request header of that call (a context variable the HTTP
client's request hook reads; the SDK sends each request in the caller's context) or in the
call's ``_meta``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any, Literal

import anyio
import httpx2
import mcp_types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError
from pydantic import ValidationError

from ..config import MCPServerConfig
from ..core.conversation import Tool
from ..core.redact import NO_SECRETS, Redactor
from .results import ToolOutcome, failed, result_text

log = logging.getLogger("agui_proxy.tools")

State = Literal["connecting", "connected", "stopped"]
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0

# The headers of the tool call being sent (forward_identity.header), read by the HTTP client's hook.
_CALL_HEADERS: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "agui_proxy_mcp_headers", default=None)


async def _add_call_headers(request: httpx2.Request) -> None:
    for name, value in (_CALL_HEADERS.get() or {}).items():
        request.headers[name] = value


class MCPConnection:
    """One configured MCP server (module docstring)."""

    def __init__(self, name: str, config: MCPServerConfig, *, redactor: Redactor = NO_SECRETS) -> None:
        self.name = name
        self.config = config
        self._redact = redactor
        self.state: State = "connecting"
        self.tools: dict[str, Tool] = {}
        self.last_error: str | None = None
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._lost = False
        self._changed = False
        self._wake = anyio.Event()
        self.connected = anyio.Event()  # set once connected with the tools listed (`check` waits on it)

    # -- the owner task --------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._own(), name=f"mcp server {self.name}")

    async def aclose(self) -> None:
        self.state = "stopped"
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _own(self) -> None:
        delay = FIRST_BACKOFF
        while not self._stopping:
            try:
                # The connect deadline is lifted once connected; the SDK's client is entered and
                # left inside the one scope (a scope left by another path breaks anyio's nesting).
                with anyio.CancelScope(deadline=anyio.current_time() + self.config.connect_timeout) as scope:
                    async with AsyncExitStack() as stack:
                        client = await stack.enter_async_context(self._new_client(stack))
                        await self._list(client)
                        scope.deadline = math.inf
                        delay = FIRST_BACKOFF
                        await self._serve(client)
                if scope.cancelled_caught:
                    self._failed(TimeoutError())
            except Exception as exc:  # any failure to connect or of the connection: try again later
                self._failed(exc)
            self._client = None
            if self._stopping:
                return
            self.state = "connecting"
            await anyio.sleep(delay)
            delay = min(MAX_BACKOFF, delay * 2)

    def _failed(self, exc: BaseException) -> None:
        self.last_error = self._redact(_describe(exc))
        log.warning("MCP server %s: %s; connecting again", self.name, self.last_error)

    def _new_client(self, stack: AsyncExitStack) -> Client:
        config = self.config
        server: Any
        if config.url is not None:
            http = httpx2.AsyncClient(headers=dict(config.headers), event_hooks={"request": [_add_call_headers]},
                                      timeout=httpx2.Timeout(config.connect_timeout, read=None))
            stack.push_async_callback(http.aclose)
            server = streamable_http_client(config.url, http_client=http)
        else:
            assert config.command is not None
            server = StdioServerParameters(command=config.command[0], args=config.command[1:],
                                           env=dict(config.env) or None, cwd=config.cwd)
        return Client(server, message_handler=self._message, cache=None,
                      client_info=mcp_types.Implementation(name="agui-proxy", version="1"))

    async def _serve(self, client: Client) -> None:
        """Connected: wait until the connection is lost (or the proxy stops), listing the tools
        again whenever the server says they changed."""
        self._lost = self._changed = False
        self._wake = anyio.Event()
        self._client = client
        self.state = "connected"
        self.last_error = None
        self.connected.set()
        log.info("MCP server %s: connected, %d tools (%s)", self.name, len(self.tools), ", ".join(self.tools))
        async with anyio.create_task_group() as group:
            group.start_soon(self._listen, client)
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                if self._lost:
                    group.cancel_scope.cancel()
                    raise ConnectionError(self.last_error or "the connection was lost")
                if self._changed:
                    self._changed = False
                    with anyio.fail_after(self.config.connect_timeout):
                        await self._list(client)
                    log.info("MCP server %s: tools changed, %d now (%s)", self.name, len(self.tools),
                             ", ".join(self.tools))

    def _lose(self, exc: BaseException) -> None:
        self.last_error = self._redact(_describe(exc))
        self._lost = True
        self._wake.set()

    def _tools_changed(self) -> None:
        self._changed = True
        self._wake.set()

    async def _listen(self, client: Client) -> None:
        """The 2026-07-28 way to learn of a changed tool list; older servers send a notification."""
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _ in subscription:
                    self._tools_changed()
        except ListenNotSupportedError:
            return  # an older protocol: _message hears the notification
        except Exception as exc:
            self._lose(exc)

    async def _message(self, message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._tools_changed()
        elif isinstance(message, Exception):  # the transport's error, passed on by the session
            self.last_error = self._redact(_describe(message))

    async def _list(self, client: Client) -> None:
        tools: dict[str, Tool] = {}
        cursor: str | None = None
        for _ in range(100):  # pages; a server that pages forever is cut off
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            for tool in page.tools:
                tools[tool.name] = Tool(tool.name, tool.description or "", dict(tool.input_schema))
            cursor = page.next_cursor
            if cursor is None:
                break
        self.tools = tools

    # -- calls -----------------------------------------------------------------------------------

    async def call(self, tool: str, arguments: dict[str, Any], *, identity: str | None = None) -> ToolOutcome:
        """Call ``tool``; every failure is an error outcome (``results.py``), never an exception."""
        client = self._client
        if client is None or self.state != "connected":
            return failed("unavailable", f"the tool server {self.name} is not reachable now")
        forward = self.config.forward_identity
        meta: dict[str, Any] | None = None
        token = None
        if forward is not None and identity is not None:
            if forward.meta is not None:
                meta = {forward.meta: identity}
            if forward.header is not None:
                token = _CALL_HEADERS.set({forward.header: identity})
        try:
            with anyio.fail_after(self.config.timeout):
                result = await client.call_tool(tool, arguments, meta=meta)  # type: ignore[arg-type]
        except TimeoutError:
            return failed("timeout", f"{tool} did not answer within {self.config.timeout:g} s")
        except MCPError as exc:
            if exc.code != mcp_types.CONNECTION_CLOSED:  # the server refused the call (unknown tool, bad input)
                return failed("error", self._redact(f"{tool}: {exc.error.message}"))
            self._lose(exc)
            return failed("unavailable", f"the tool server {self.name} went away during the call")
        except ValidationError:
            return failed("error", f"{tool} answered with a result that is not valid MCP")
        except Exception as exc:  # the connection itself failed: the owner reconnects
            self._lose(exc)
            return failed("unavailable", f"the tool server {self.name} went away during the call")
        finally:
            if token is not None:
                _CALL_HEADERS.reset(token)
        return result_text(list(result.content), result.structured_content, is_error=bool(result.is_error),
                           limit=self.config.max_result_bytes, tool=tool)


def _describe(exc: BaseException) -> str:
    """A failure in a line, for the log and ``/readyz`` (an exception group: its first leaf)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = type(exc).__name__
    if isinstance(exc, TimeoutError):
        return "no answer in time (connect_timeout)"
    return f"{kind}: {text[:200]}" if text else kind
