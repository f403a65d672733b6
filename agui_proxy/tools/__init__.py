"""Server-side tools: MCP servers the proxy connects to, and the tools it runs on them for the
model (docs/server-tools.md).  The SDK (the ``mcp`` extra) is imported only when the config has
``mcp_servers``."""

from .results import ToolCallRecord, ToolOutcome
from .servers import RouteTools, ServerTools, open_server_tools

__all__ = ["RouteTools", "ServerTools", "ToolCallRecord", "ToolOutcome", "open_server_tools"]
