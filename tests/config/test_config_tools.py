"""``mcp_servers`` and a route's ``server_tools`` (config/tools.py): what is refused, with the
field named, and the MCP servers' secrets in the config's one redactor."""

from __future__ import annotations

from typing import Any

import pytest

from agui_proxy.app.secrets import config_redactor
from agui_proxy.config import config_from_dict
from agui_proxy.errors import ConfigError


def config(servers: dict[str, Any], tools: dict[str, Any] | None = None) -> dict[str, Any]:
    route: dict[str, Any] = {"path": "/api/agent", "upstream": "u"}
    if tools is not None:
        route["server_tools"] = tools
    return {"upstreams": {"u": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9/v1", "model": "m"}},
            "mcp_servers": servers, "routes": [route]}


HTTP = {"crm": {"url": "https://crm.internal/mcp"}}


@pytest.mark.parametrize(("servers", "tools", "says"), [
    ({"crm": {}}, None, "agui.yaml: mcp_servers.crm: give url (Streamable HTTP) or command (stdio)"),
    ({"crm": {"url": "https://a/mcp", "command": ["x"]}}, None, "not both and not neither"),
    ({"crm": {"url": "ftp://a"}}, None, "mcp_servers.crm.url"),
    ({"crm": {"command": ["x"], "headers": {"a": "b"}}}, None, "a stdio server (command) takes no headers"),
    ({"crm": {"command": []}}, None, "mcp_servers.crm.command"),
    ({"crm": {"command": ["x"], "forward_identity": {"header": "x-user"}}}, None, "use forward_identity.meta"),
    (HTTP, {"servers": ["files"]}, "routes[0].server_tools.servers[0]: no MCP server named 'files' (mcp_servers: crm)"),
    (HTTP, {"servers": []}, "routes[0].server_tools.servers"),
    (HTTP, {"servers": ["crm"], "allow": ["a"], "confirm": ["b"]}, "confirm: 'b' is not in allow"),
    (HTTP, {"servers": ["crm"], "render": "required", "max_steps": 1}, "render: required takes at least 2 steps"),
    (HTTP, {"servers": ["crm"], "allow": ["no spaces"]}, "'no spaces' is not a tool name"),
    (HTTP, {"servers": ["crm"], "render": "always"}, "routes[0].server_tools.render"),
], ids=["neither", "both", "not-http", "stdio-headers", "empty-command", "stdio-identity-header", "unknown-server",
        "no-servers", "confirm-not-allowed", "render-one-step", "bad-tool-name", "bad-render"])
def test_refused_with_the_field_named(servers: dict[str, Any], tools: dict[str, Any] | None, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config_from_dict(config(servers, tools), source="agui.yaml", env={})
    assert says in str(refused.value)


def test_secrets_of_headers_and_environment_are_redacted() -> None:
    loaded = config_from_dict(config(
        {"crm": {"url": "https://crm/mcp", "headers": {"Authorization": "Bearer ${CRM_TOKEN}", "X-Team": "blue"}},
         "files": {"command": ["files-server"], "env": {"FILES_API_KEY": "${FILES_KEY}", "LANG": "C.UTF-8"}}},
        {"servers": ["crm", "files"]}), env={"CRM_TOKEN": "crm-token-0123456789", "FILES_KEY": "files-key-9876543210"})
    redact = config_redactor(loaded)
    text = redact("sent Bearer crm-token-0123456789 and files-key-9876543210 to team blue in C.UTF-8")
    assert "crm-token-0123456789" not in text and "files-key-9876543210" not in text
    assert "team blue" in text and "C.UTF-8" in text
    assert "crm-token" not in repr(loaded.mcp_servers["crm"])


def test_defaults() -> None:
    loaded = config_from_dict(config(HTTP, {"servers": ["crm"]}), env={})
    server, tools = loaded.mcp_servers["crm"], loaded.routes[0].server_tools
    assert (server.timeout, server.max_result_bytes, server.kind) == (15.0, 256 * 1024, "http")
    assert tools is not None and (tools.max_steps, tools.allow, tools.render, tools.confirm) == (8, None, None, [])
