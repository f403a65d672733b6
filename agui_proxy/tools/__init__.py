"""Server-side tools: the tools the proxy itself runs during a run, on MCP servers, their calls
and results fed back to the provider between its steps (docs/server-tools.md).  The room beside
``upstream/`` (what a run asks a provider) and ``runs/`` (a run's life); the SDK (the ``mcp``
extra) is imported only when the config has ``mcp_servers``."""

from .results import ToolCallRecord, ToolOutcome
from .servers import RouteTools, ServerTools, open_server_tools

__all__ = ["RouteTools", "ServerTools", "ToolCallRecord", "ToolOutcome", "open_server_tools"]
