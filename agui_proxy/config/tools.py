"""The server-side tools' sections of the config: ``mcp_servers`` and a route's ``server_tools``.

``mcp_servers`` names the MCP servers the proxy connects to (docs/server-tools.md): one reached
over Streamable HTTP (``url``, with ``headers``), or one the proxy starts and owns and talks to
over stdio (``command``).  A route's ``server_tools`` says whose tools the model may call there,
run by the proxy itself, and how (``allow``, ``max_steps``, ``render``, ``confirm``).

Secrets follow the API keys' rules: ``${VAR}`` in any value, and the values of secret-looking
header and environment names (``authorization``, ``*key*``, ``*token*``, ``*secret*``) are in the
config's one redactor, so they never reach a response, a log or a trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .strict import HEADER_NAME, Strict, http_url

DEFAULT_RESULT_BYTES = 256 * 1024
DEFAULT_MAX_STEPS = 8
# A tool's name as every provider takes it (OpenAI and Anthropic: ^[a-zA-Z0-9_-]{1,64}$; Gemini
# also takes dots and colons, which the others refuse).
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SERVER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def looks_secret(name: str) -> bool:
    """Whether a header or environment variable of this name carries a credential."""
    lowered = name.lower()
    return lowered in ("authorization", "proxy-authorization", "cookie") or any(
        word in lowered for word in ("key", "token", "secret", "password"))


class MCPForwardIdentity(Strict):
    """``forward_identity`` of an MCP server: who the end user is, so the tool server can
    authorize per user.  ``header`` (Streamable HTTP servers) sends it as a request header of
    each tool call; ``meta`` puts it in the call's ``_meta`` under that key (any transport)."""

    header: str | None = None
    meta: str | None = None

    @field_validator("header")
    @classmethod
    def _header_name(cls, name: str | None) -> str | None:
        if name is None:
            return None
        lowered = name.strip().lower()
        if not HEADER_NAME.match(lowered) or lowered in ("authorization", "content-type", "host",
                                                         "mcp-session-id", "mcp-protocol-version"):
            raise ValueError(f"{name!r} cannot carry the identity (a header name other than authorization, "
                             "content-type, host and MCP's own)")
        return lowered

    @model_validator(mode="after")
    def _something(self) -> MCPForwardIdentity:
        if self.header is None and self.meta is None:
            raise ValueError("give header, meta, or both")
        return self


class MCPServerConfig(Strict):
    """One MCP server: ``url`` (Streamable HTTP) or ``command`` (stdio, started by the proxy)."""

    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict, repr=False)  # added to a stdio server's environment
    cwd: str | None = None
    timeout: float = Field(15.0, gt=0)  # seconds, one tool call
    connect_timeout: float = Field(30.0, gt=0)  # seconds, connecting (a stdio server starting) and listing the tools
    max_result_bytes: int = Field(DEFAULT_RESULT_BYTES, ge=1024)  # a larger result is an error result
    forward_identity: MCPForwardIdentity | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        return None if url is None else http_url(url, "url")

    @field_validator("command")
    @classmethod
    def _command(cls, command: list[str] | None) -> list[str] | None:
        if command is not None and (not command or not command[0].strip()):
            raise ValueError("command is the program and its arguments, e.g. [python, -m, files_server]")
        return command

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a header name")
            if not str(value).strip():
                raise ValueError(f"the value of {name} is empty (is its environment variable set to an "
                                 "empty string?); leave the header out to send none")
        return headers

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError("give url (Streamable HTTP) or command (stdio), not both and not neither")
        if self.command is not None and self.headers:
            raise ValueError("headers: a stdio server (command) takes no headers; use env")
        if self.url is not None and (self.env or self.cwd):
            raise ValueError("env and cwd are for a stdio server (command)")
        if self.command is not None and self.forward_identity and self.forward_identity.header:
            raise ValueError("forward_identity.header: a stdio server has no headers; use forward_identity.meta")
        return self

    @property
    def kind(self) -> Literal["http", "stdio"]:
        return "http" if self.url is not None else "stdio"

    def secrets(self) -> list[str]:
        """The values that must never reach a client or a log."""
        values = [v for k, v in {**self.headers, **self.env}.items() if looks_secret(k)]
        # "Bearer <token>": the token alone too, wherever it is echoed.
        values += [v.split(None, 1)[1] for v in values if " " in v.strip()]
        return [v.strip() for v in values if v.strip()]


class ServerToolsConfig(Strict):
    """A route's ``server_tools``: the tools the proxy runs for the model, and the loop's rules."""

    servers: list[str] = Field(min_length=1)  # whose tools run in the proxy (names of mcp_servers)
    allow: list[str] | None = None  # a subset of the servers' tools; default all of them
    max_steps: int = Field(DEFAULT_MAX_STEPS, ge=1, le=64)  # upstream calls in one run, the first included
    render: Literal["required"] | None = None  # the two-pass render (docs/server-tools.md)
    confirm: list[str] = Field(default_factory=list)  # tools that wait for the user's approval

    @field_validator("allow", "confirm")
    @classmethod
    def _tool_names(cls, names: list[str] | None) -> list[str] | None:
        for name in names or ():
            if not TOOL_NAME.match(name):
                raise ValueError(f"{name!r} is not a tool name (letters, digits, _ and -, at most 64)")
        return names

    @model_validator(mode="after")
    def _confirm_allowed(self) -> ServerToolsConfig:
        if self.allow is not None:
            for name in self.confirm:
                if name not in self.allow:
                    raise ValueError(f"confirm: {name!r} is not in allow, so the model never calls it")
        if self.render == "required" and self.max_steps < 2:
            raise ValueError("max_steps: render: required takes at least 2 steps (a data step and the render)")
        return self

    def allows(self, tool: str) -> bool:
        return self.allow is None or tool in self.allow


def check_server_tools(routes: list[tuple[str, ServerToolsConfig | None]],
                       servers: Mapping[str, MCPServerConfig]) -> None:
    """Every route's ``server_tools.servers`` names a configured MCP server."""
    for name in servers:
        if not SERVER_NAME.match(name):
            raise ValueError(f"mcp_servers: {name!r} is not a server name (letters, digits, ., _ and -)")
    for field, tools in routes:
        if tools is None:
            continue
        for j, name in enumerate(tools.servers):
            if name not in servers:
                known = ", ".join(sorted(servers)) or "none are configured"
                raise ValueError(f"{field}.server_tools.servers[{j}]: no MCP server named {name!r} "
                                 f"(mcp_servers: {known})")
