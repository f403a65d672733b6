"""An MCP server built with the official SDK, for the server-side tools' tests.

Run as a script it serves over stdio (``python tests/tools/mcp_tool_server.py``); a test serves
:func:`http_app` over Streamable HTTP with uvicorn on a free loopback port.  Its tools cover the
cases the proxy must handle: an answer, an identity, a failure, a call that hangs, a result of
any size, a call that must run once, a tool list that changes, and a server that goes away.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from starlette.types import ASGIApp

server = MCPServer("crm")
deletions: dict[str, int] = {}


@server.tool(description="Find customers by name.")
def search_customers(query: str) -> str:
    return f"2 customers match {query!r}: Ada Lovelace (id 7), Alan Turing (id 9)"


@server.tool(description="Who the proxy says the user is.")
def whoami(ctx: Context) -> str:
    request = ctx.request_context.request
    header = request.headers.get("x-user-id") if request is not None else None
    meta = dict(ctx.request_context.meta or {})
    return f"header={header} meta={meta.get('user')}"


@server.tool(description="Always fails.")
def fail_always() -> str:
    raise ValueError("the CRM database is down")


@server.tool(description="Waits a long time.")
async def hang(seconds: float = 60) -> str:
    await anyio.sleep(seconds)
    return "done"


@server.tool(description="A result of the given size.")
def big(size: int) -> str:
    return "x" * size


@server.tool(description="Delete an order (needs the user's approval).")
def delete_order(order_id: str) -> str:
    deletions[order_id] = deletions.get(order_id, 0) + 1
    return f"order {order_id} deleted (deletion number {deletions[order_id]})"


@server.tool(description="How often each order was deleted.")
def deletion_count(order_id: str) -> str:
    return str(deletions.get(order_id, 0))


@server.tool(description="Adds the tool 'added_later' and tells the client the list changed.")
async def add_tool(ctx: Context) -> str:
    server.add_tool(added_later, name="added_later", description="A tool added while connected.")
    await ctx.notify_tools_changed()
    return "added"


def added_later() -> str:
    return "later"


@server.tool(description="The server process exits in the middle of the call.")
def crash() -> str:
    sys.stdout.flush()
    os._exit(3)


# The tools of the provider loops (tests/conformance/loops.py): each answers what the loop's
# recorded second request holds as the tool's result.
CAPITALS = {"UK": "London", "France": '{"return_value": "Paris"}'}


@server.tool(description="The capital of a country.")
def get_capital(country: str) -> str:
    return CAPITALS[country]


@server.tool(description="Multiply two numbers.")
def multiply(a: int, b: int) -> str:
    return str(a * b)


@server.tool(description="A calculator.")
def calculator(a: int, b: int, op: str) -> str:
    return str(a + b if op == "add" else a * b)


@server.tool(description="The version of the product.")
def fixed_version() -> str:
    return "0.32a0"


@server.tool(description="The user's country.")
def get_country() -> str:
    return '{"return_value": "Mexico"}'


def http_app(**options: Any) -> ASGIApp:
    return server.streamable_http_app(**options)


if __name__ == "__main__":
    server.run("stdio")
