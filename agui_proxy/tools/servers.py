"""The process's MCP servers, and what one route may call on them (docs/server-tools.md).

:func:`open_server_tools` builds one :class:`~.connection.MCPConnection` per ``mcp_servers``
entry (``None`` when there is none: a config without server tools never imports the SDK); the
app starts them at startup and closes them at shutdown.  A route with ``server_tools`` gets a
:class:`RouteTools`: the loop's rules with the tools its servers list *now* (a server that
connects later, or whose list changed, is seen by the next run), and the call of one tool on the
server that has it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..config import MCPServerConfig, ServerToolsConfig
from ..core.conversation import Tool, ToolCall
from ..core.redact import NO_SECRETS, Redactor
from ..core.tool_loop import LoopRules
from ..errors import ConfigError
from .results import ToolOutcome, failed

if TYPE_CHECKING:
    from .connection import MCPConnection

log = logging.getLogger("agui_proxy.tools")


class ServerTools:
    """Every configured MCP server's connection."""

    def __init__(self, connections: Mapping[str, MCPConnection]) -> None:
        self.connections = dict(connections)

    def start(self) -> None:
        for connection in self.connections.values():
            connection.start()

    async def aclose(self) -> None:
        for connection in self.connections.values():
            await connection.aclose()

    def status(self) -> dict[str, dict[str, Any]]:
        """Each server's state for ``/readyz``: connected (with its tool count) or connecting (why)."""
        out: dict[str, dict[str, Any]] = {}
        for name, connection in self.connections.items():
            entry: dict[str, Any] = {"state": connection.state, "tools": len(connection.tools)}
            if connection.state != "connected" and connection.last_error:
                entry["error"] = connection.last_error
            out[name] = entry
        return out

    def for_route(self, config: ServerToolsConfig) -> RouteTools:
        return RouteTools(config, [self.connections[name] for name in config.servers])


class RouteTools:
    """One route's server tools: its rules (``server_tools``) over its servers' current tools."""

    def __init__(self, config: ServerToolsConfig, connections: list[MCPConnection]) -> None:
        self.config = config
        self._connections = connections

    def rules(self) -> LoopRules:
        """The loop's rules with the allowed tools the servers list now (the first server in
        ``servers`` that lists a name has it)."""
        tools: dict[str, Tool] = {}
        for connection in self._connections:
            for name, tool in connection.tools.items():
                if self.config.allows(name) and name not in tools:
                    tools[name] = tool
        return LoopRules(tools, frozenset(self.config.confirm), self.config.max_steps,
                         self.config.render == "required")

    def server_of(self, tool: str) -> str | None:
        for connection in self._connections:
            if tool in connection.tools:
                return connection.name
        return None

    async def call(self, call: ToolCall, *, identity: str | None = None) -> ToolOutcome:
        """Run one call of the model on the server that has the tool."""
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            return failed("error", f"the arguments of {call.name} are not a JSON object")
        for connection in self._connections:
            if call.name in connection.tools:
                return await connection.call(call.name, arguments, identity=identity)
        return failed("unavailable", f"no tool server of this route has {call.name} now")


async def probe(tools: ServerTools) -> dict[str, str | None]:
    """Connect to every server once (``agui-proxy check``): its problem, or ``None`` when it
    answered and listed its tools within its ``connect_timeout``."""
    import anyio

    found: dict[str, str | None] = {}
    tools.start()
    try:
        for name, connection in tools.connections.items():
            with anyio.move_on_after(connection.config.connect_timeout):
                await connection.connected.wait()
            found[name] = None if connection.state == "connected" else (
                connection.last_error or f"no answer within {connection.config.connect_timeout:g} s")
    finally:
        await tools.aclose()
    return found


def open_server_tools(servers: Mapping[str, MCPServerConfig], *, redactor: Redactor = NO_SECRETS,
                      source: str = "<config>") -> ServerTools | None:
    """The connections of ``mcp_servers`` (not started), or ``None`` when there are none.

    Raises :class:`ConfigError` naming the ``mcp`` extra when the SDK is not installed.
    """
    if not servers:
        return None
    try:
        from .connection import MCPConnection
    except ImportError as exc:
        raise ConfigError(f"mcp_servers needs the official MCP SDK: pip install 'agui-proxy[mcp]' ({exc})",
                          path=source, field="mcp_servers") from None
    return ServerTools({name: MCPConnection(name, config, redactor=redactor) for name, config in servers.items()})
