"""One MCP server's connection (agui_proxy/tools/connection.py) against a real server built with
the official SDK, on loopback: the identity it forwards, a tool list that changes, a server that
is not there at first, and the proxy without the SDK installed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator

import pytest

from agui_proxy.config import MCPServerConfig, config_from_dict
from agui_proxy.errors import ConfigError
from agui_proxy.tools import open_server_tools
from agui_proxy.tools.connection import MCPConnection

from ..support.mcp_server import MCPHTTPServer
from . import mcp_tool_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def crm() -> Iterator[MCPHTTPServer]:
    with MCPHTTPServer() as server:
        yield server


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    async def wait() -> None:
        while not check():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


def connected(config: MCPServerConfig, body: Callable[[MCPConnection], Awaitable[None]]) -> None:
    async def main() -> None:
        connection = MCPConnection("crm", config)
        connection.start()
        try:
            await asyncio.wait_for(connection.connected.wait(), 20)
            await body(connection)
        finally:
            await connection.aclose()

    asyncio.run(main())


def test_the_identity_reaches_the_server_as_configured(crm: MCPHTTPServer) -> None:
    async def body(connection: MCPConnection) -> None:
        assert (await connection.call("whoami", {}, identity="user-7")).text == "header=user-7 meta=user-7"
        assert (await connection.call("whoami", {})).text == "header=None meta=None"

    connected(MCPServerConfig(url=crm.url, forward_identity={"header": "x-user-id", "meta": "user"}), body)


def test_a_changed_tool_list_is_listed_again(crm: MCPHTTPServer) -> None:
    async def body(connection: MCPConnection) -> None:
        assert "added_later" not in connection.tools
        assert (await connection.call("add_tool", {})).text == "added"
        await until(lambda: "added_later" in connection.tools)
        assert (await connection.call("added_later", {})).text == "later"

    try:
        connected(MCPServerConfig(url=crm.url), body)
    finally:
        mcp_tool_server.server.remove_tool("added_later")


def test_a_server_not_there_at_start_is_retried_until_it_is() -> None:
    later = MCPHTTPServer()  # its port is bound, not yet listening: connections are refused

    async def main() -> None:
        connection = MCPConnection("crm", MCPServerConfig(url=later.url, connect_timeout=2))
        connection.start()
        try:
            await until(lambda: connection.last_error is not None)
            assert connection.state == "connecting" and not connection.tools
            outcome = await connection.call("search_customers", {"query": "x"})
            assert outcome.status == "unavailable" and "not reachable" in outcome.text
            with later:
                await asyncio.wait_for(connection.connected.wait(), 30)
                assert connection.state == "connected" and "search_customers" in connection.tools
        finally:
            await connection.aclose()
        assert connection.state == "stopped"

    asyncio.run(main())


def test_without_the_sdk_the_proxy_runs_and_mcp_servers_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # as if the mcp extra were not installed
    monkeypatch.delitem(sys.modules, "agui_proxy.tools.connection")
    assert open_server_tools({}) is None
    config = config_from_dict({"upstreams": {"u": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9",
                                                   "model": "m"}},
                               "mcp_servers": {"crm": {"url": "http://127.0.0.1:9/mcp"}},
                               "routes": [{"path": "/a", "upstream": "u", "server_tools": {"servers": ["crm"]}}]})
    with pytest.raises(ConfigError) as refused:
        open_server_tools(config.mcp_servers)
    assert "pip install 'agui-proxy[mcp]'" in str(refused.value) and refused.value.field == "mcp_servers"
