"""``agui-proxy check``: everything the proxy would refuse at start, found without serving.

The config was loaded already (every problem of the file itself is in its
:class:`~agui_proxy.errors.ConfigError`); this goes on to what is only found when the proxy is
built from it: the app itself (providers, route plans, metrics), the replay recordings on disk,
and tracing's SDK when tracing is asked for, and the cloud upstreams' credentials (which ones each
would use, by kind and source, never a value).  Every problem is printed, then the exit status:
0 when there is none, 2 otherwise.  Nothing is sent to an upstream or a collector; finding cloud
credentials may ask the cloud's own credential endpoints (the instance metadata service, STS).
The MCP servers of ``mcp_servers`` are contacted: each is connected to once and its tools listed,
and one that cannot be reached is reported as a warning (the proxy serves without it and connects
when it can, so the config is still valid).
"""

from __future__ import annotations

import os
import sys

from ..config import Config, ReplayUpstream
from ..errors import ConfigError
from ..upstream.clouds import CredentialsInfo, describe_credentials
from ..version import __version__
from .summary import render, summary


def problems(config: Config, source: str, credentials: dict[str, CredentialsInfo] | None = None) -> list[ConfigError]:
    """Everything wrong with ``config``; ``credentials`` gets what each cloud upstream would use."""
    found: list[ConfigError] = []
    for name, upstream in config.upstreams.items():
        if not isinstance(upstream, ReplayUpstream):
            continue
        path = upstream.file  # resolved from the config's directory
        try:
            with open(path, "rb") as recording:
                recording.read(1)
        except OSError as exc:
            found.append(ConfigError(f"the recording {path} cannot be read ({exc.strerror})", path=source,
                                     field=f"upstreams.{name}.file"))
    try:
        from ..app.proxy import create_app

        app = create_app(config)
        if credentials is not None:
            credentials.update(describe_credentials(config, dict(app.parts.clouds)))
        for authorizer in app.parts.clouds.values():
            authorizer.close()
    except ConfigError as exc:
        found += exc.problems
    return found


def check(config: Config, *, config_path: str | None, workers: int) -> int:
    """Print what is wrong (stderr) or that the config is valid and what it serves (stdout)."""
    source = config_path or "<embedded default>"
    credentials: dict[str, CredentialsInfo] = {}
    found = problems(config, source, credentials)
    if found:
        for problem in found:
            print(f"agui-proxy: config error: {problem}", file=sys.stderr)
        return 2
    print(f"agui-proxy: {source} is valid", flush=True)
    extra = {"credentials": [f"{name}: {info}" for name, info in credentials.items()]} if credentials else None
    print(render(summary(config, version=__version__, config_path=config_path, workers=workers, env=os.environ,
                         extra=extra)), flush=True)
    if config.mcp_servers:
        report_mcp_servers(config)
    return 0


def report_mcp_servers(config: Config) -> None:
    """Each MCP server reached or not: a line on stdout, or a warning on stderr."""
    import asyncio

    from ..tools.servers import open_server_tools, probe

    tools = open_server_tools(config.mcp_servers)
    assert tools is not None
    for name, problem in asyncio.run(probe(tools)).items():
        if problem is None:
            listed = tools.connections[name].tools
            print(f"agui-proxy: mcp_servers.{name}: reached, {len(listed)} tools ({', '.join(listed)})", flush=True)
        else:
            print(f"agui-proxy: warning: mcp_servers.{name}: not reachable ({problem}); the proxy serves without "
                  "its tools and keeps trying", file=sys.stderr, flush=True)
