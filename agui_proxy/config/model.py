"""The whole configuration: :class:`Config`, its sections, and the checks across them.

Each section is a model of its own module (``serving.py``, ``auth.py``, ``upstreams.py``,
``routes.py``, ``operations.py``, ``store.py``, ``quotas.py``, ``tracing.py``, ``runs.py``,
``transport.py``, ``tools.py``); the checks that need two of them (a route naming an upstream, two things
served at one path) are here.  ``load.py`` builds one from a YAML file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from .auth import AuthConfig
from .identity import check_identity
from .operations import CORSConfig, LoggingConfig, MetricsConfig, ProbesConfig, check_ops, ops_paths
from .quotas import QuotasConfig
from .routes import RouteConfig
from .runs import RunsConfig
from .secret_length import warn_short_keys
from .serving import LimitsConfig, ListenConfig, StreamsConfig
from .store import StoreConfig
from .strict import Strict, check_paths_distinct
from .tools import MCPServerConfig, check_server_tools
from .tracing import TracingConfig
from .transport import UpstreamTLSConfig, UpstreamTransport
from .upstreams import UpstreamConfig

# Where the playground page is served when ``playground: true`` (app/playground.py).
PLAYGROUND_PATH = "/playground"


class Config(Strict):
    server: ListenConfig = ListenConfig()
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    streams: StreamsConfig = StreamsConfig()
    upstreams: dict[str, UpstreamConfig]
    routes: list[RouteConfig] = Field(min_length=1)
    probes: ProbesConfig = ProbesConfig()
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()
    cors: CORSConfig = CORSConfig()
    store: StoreConfig = StoreConfig()  # shared state (quotas): in-process memory, or Redis
    quotas: QuotasConfig = QuotasConfig()
    tracing: TracingConfig = TracingConfig()  # OpenTelemetry, off by default (tracing.py)
    runs: RunsConfig = RunsConfig()  # what the resumable routes' runs may keep, all routes together
    mcp_servers: dict[str, MCPServerConfig] = Field(default_factory=dict)  # for routes' server_tools (tools.py)
    # GET /playground: a page to chat through the routes and watch the AG-UI stream (app/playground.py).
    # Off unless asked for (on in the embedded default): it lists the route paths to whoever can reach it.
    playground: bool = False
    # The network layer under the shared upstream client (transport.py), and its TLS checks.
    upstream_transport: UpstreamTransport = "lean"
    upstream_tls: UpstreamTLSConfig = UpstreamTLSConfig()
    # Where relative paths in the config (replay files) are resolved from.
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @model_validator(mode="after")
    def _routes_name_upstreams(self) -> Config:
        for i, route in enumerate(self.routes):
            if route.upstream not in self.upstreams:
                names = ", ".join(sorted(self.upstreams)) or "none are configured"
                raise ValueError(f"routes[{i}].upstream: no upstream named {route.upstream!r} ({names})")
            for j, name in enumerate(route.fallbacks):
                if name not in self.upstreams:
                    raise ValueError(f"routes[{i}].fallbacks[{j}]: no upstream named {name!r}")
                if name == route.upstream or route.fallbacks.index(name) != j:
                    raise ValueError(f"routes[{i}].fallbacks[{j}]: {name!r} is already in the route's chain")
        return self

    @model_validator(mode="after")
    def _server_tools_name_servers(self) -> Config:
        check_server_tools([(f"routes[{i}]", r.server_tools) for i, r in enumerate(self.routes)], self.mcp_servers)
        return self

    @model_validator(mode="after")
    def _short_keys_warned(self) -> Config:
        warn_short_keys({name: getattr(upstream, "api_key", None) for name, upstream in self.upstreams.items()})
        return self

    @model_validator(mode="after")
    def _ops_sections(self) -> Config:
        check_ops(self.metrics, self.cors, self.auth.tokens)
        check_identity({name: (u.provider, u.forward_identity) for name, u in self.upstreams.items()},
                       self.logging)
        return self

    @model_validator(mode="after")
    def _tracing_names_upstreams(self) -> Config:
        for i, name in enumerate(self.tracing.propagate_to):
            if name not in self.upstreams:
                raise ValueError(f"tracing.propagate_to[{i}]: no upstream named {name!r}")
        return self

    @model_validator(mode="after")
    def _one_thing_per_path(self) -> Config:
        reserved = {PLAYGROUND_PATH: "is where the playground is served "
                                     "(choose another path, or set playground: false)"}
        check_paths_distinct([*ops_paths(self.probes, self.metrics),
                              *((f"routes[{i}].path", route.path) for i, route in enumerate(self.routes))],
                             reserved if self.playground else None)
        return self

    @model_validator(mode="after")
    def _ca_file_exists(self) -> Config:
        path = self.tls_ca_file()
        if path is not None and not path.is_file():
            raise ValueError(f"upstream_tls.ca_file: {str(path)!r} is not a file")
        return self

    def tls_ca_file(self) -> Path | None:
        path = self.upstream_tls.ca_file
        return path if path is None or path.is_absolute() else self.base_dir / path
