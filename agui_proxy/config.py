"""The configuration: one validated object, built once from YAML.

``${VAR}`` and ``${VAR:-default}`` in any string value are taken from the environment before
validation; a variable that is not set and has no default is an error naming it.  Every error
names the file, the field and what is wrong (``config.yaml: upstreams.openai.base_url: ...``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from .config_auth import warn_short_keys
from .config_base import HEADER_NAME, Strict, absolute_path, check_paths_distinct, http_url
from .config_env import interpolate
from .config_errors import Unresolved, upstream_error, validation_problems
from .config_identity import AuthConfig, ForwardIdentityConfig, check_identity
from .config_ops import CORSConfig, LoggingConfig, MetricsConfig, ProbesConfig, check_ops, ops_paths
from .config_quotas import QuotasConfig, StoreConfig
from .config_runs import ResumableConfig, RunsConfig
from .config_tracing import TracingConfig
from .config_transport import UpstreamTLSConfig, UpstreamTransport
from .errors import ConfigError
from .providers import PROVIDERS, Provider, Replay, ReplaySettings

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
BUILTIN_RECORDING = Path(__file__).parent / "recordings" / "demo-openai-chat.sse"
# Where the playground page is served when ``playground: true`` (server/playground.py).
PLAYGROUND_PATH = "/playground"


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=256)  # --workers overrides
    # Seconds a connection has to send complete request headers (from its opening, and after each
    # response while kept alive) before the CLI's server closes it (server/header_timeout.py).
    header_timeout: float = Field(10.0, gt=0)


class LimitsConfig(Strict):
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1)
    max_event_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    body_timeout: float = Field(30.0, gt=0)  # seconds to receive the whole request body; past it 408
    # A request's head (request line and headers) past these gets 431, before anything else is
    # done with it (server/header_limits.py): its size in bytes, and its number of header fields.
    max_header_bytes: int = Field(64 * 1024, ge=1024)  # a JWT and a page's cookies fit
    max_headers: int = Field(100, ge=8)  # as Apache's LimitRequestFields


# -- reliability: timeouts, retries, stream limits (README "Reliability") ------------------------

# Client headers that never reach an upstream, whatever forward_headers says: the client's own
# credentials (PROTOCOL.md section 4: the inbound token is never forwarded) and hop-by-hop or
# framing headers that belong to one connection, not to the request.
UNFORWARDABLE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "host", "content-length", "content-type",
    "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade", "expect",
})


class TimeoutsConfig(Strict):
    """Seconds.  Each one ends the run with RUN_ERROR ``upstream_timeout`` naming it."""

    connect: float = Field(10.0, gt=0)  # opening the TCP (and TLS) connection
    first_byte: float = Field(60.0, gt=0)  # from sending the request to the response's status line
    # The longest silence between two chunks of the body.  Reasoning models think for minutes
    # without a byte (FORMATS.md section 0: OpenAI and Gemini send nothing meanwhile).
    idle: float = Field(300.0, gt=0)
    total: float = Field(1800.0, gt=0)  # the whole exchange with this upstream, retries included


class RetriesConfig(Strict):
    """Retries of one upstream before anything of its answer reached the client."""

    max: int = Field(2, ge=0)  # retries after the first try (0: none)
    backoff: float = Field(0.5, ge=0)  # the first wait, in seconds; doubled on each retry
    max_backoff: float = Field(8.0, ge=0)
    max_retry_after: float = Field(30.0, ge=0)  # a 429's Retry-After past this is not waited for


def _forwardable(names: list[str]) -> list[str]:
    out = []
    for name in names:
        lowered = name.strip().lower()
        if not HEADER_NAME.fullmatch(lowered):
            raise ValueError(f"{name!r} is not a header name")
        if lowered in UNFORWARDABLE_HEADERS:
            raise ValueError(f"the {lowered} header is never forwarded to an upstream")
        out.append(lowered)
    return out


# -- upstreams: one model per kind, told apart by ``provider:`` (README "Upstreams") ---------------


class _Upstream(Strict):
    """What every upstream has, whatever answers it: reliability settings and forwarded headers."""

    provider: str  # each kind narrows it to its own name: the tag the union picks the kind by
    timeouts: TimeoutsConfig = TimeoutsConfig()
    retries: RetriesConfig = RetriesConfig()
    forward_headers: list[str] = Field(default_factory=list)  # client headers sent on to this upstream
    model: str = ""
    forward_identity: ForwardIdentityConfig | None = None  # who the user is, as a header or the provider's field

    @field_validator("retries", mode="before")
    @classmethod
    def _retries_shorthand(cls, value: Any) -> Any:
        # "retries: 3" is "retries: {max: 3}".
        if isinstance(value, int) and not isinstance(value, bool):
            return {"max": value}
        return value

    @field_validator("forward_headers")
    @classmethod
    def _upstream_forwardable(cls, names: list[str]) -> list[str]:
        return _forwardable(names)

    @property
    def label(self) -> str:  # what the upstream is, for a person (the playground's list)
        return self.provider


class _HTTPUpstream(_Upstream):
    """An upstream answered over HTTP by one of the registered providers."""

    base_url: str
    api_key: str | None = Field(None, repr=False)
    model: str
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return http_url(url, "base_url")

    @field_validator("model")
    @classmethod
    def _model_given(cls, model: str) -> str:
        if not model:
            raise ValueError("model is required")
        return model

    # An empty secret is refused, as an empty inbound token is: "${OPENAI_API_KEY}" with the
    # variable set but empty would otherwise send no credentials and fail on every request.
    @field_validator("api_key")
    @classmethod
    def _key_not_empty(cls, key: str | None) -> str | None:
        if key is not None and not key.strip():
            raise ValueError("is empty (is its environment variable set to an empty string?); "
                             "leave api_key out for an upstream that takes no key")
        return key

    @field_validator("headers")
    @classmethod
    def _header_values_not_empty(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not str(value).strip():
                raise ValueError(f"the value of {name} is empty (is its environment variable set to an "
                                 "empty string?); leave the header out to send none")
        return headers

    def settings(self, model: str | None) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": model or self.model, "api_key": self.api_key,
                "headers": dict(self.headers), "query": dict(self.query), "extra_body": dict(self.body)}

    def build_provider(self, model: str | None = None) -> Provider:
        """The provider strategy for this upstream (``model``: one the route lets the client pick)."""
        cls = PROVIDERS[self.provider]
        return cls(cls.settings_class(**self.settings(model)))


class OpenAIChatUpstream(_HTTPUpstream):
    provider: Literal["openai-chat"]
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"

    def settings(self, model: str | None) -> dict[str, Any]:
        return {**super().settings(model), "max_tokens_param": self.max_tokens_param}


class OpenAIResponsesUpstream(_HTTPUpstream):
    provider: Literal["openai-responses"]


class AnthropicUpstream(_HTTPUpstream):
    provider: Literal["anthropic"]


class GeminiUpstream(_HTTPUpstream):
    provider: Literal["gemini"]


class ReplayUpstream(_Upstream):
    """A recorded stream played back (the embedded default's ``demo``); ``file`` is relative to the config."""

    provider: Literal["replay"]
    format: str = "openai-chat"
    file: Path = BUILTIN_RECORDING
    chunk_size: int = Field(64, ge=1)
    interval: float = Field(0.02, ge=0)

    @field_validator("format")
    @classmethod
    def _known_format(cls, name: str) -> str:
        if name not in PROVIDERS:
            raise ValueError(f"unknown recording format {name!r} (one of: {', '.join(sorted(PROVIDERS))})")
        return name

    @field_validator("file")
    @classmethod
    def _from_config_dir(cls, path: Path, info: ValidationInfo) -> Path:
        base_dir = (info.context or {}).get("base_dir") or Path.cwd()
        return path if path.is_absolute() else Path(base_dir) / path

    @property
    def label(self) -> str:
        return f"{self.provider} ({self.format})"

    def build_provider(self, model: str | None = None) -> Provider:
        return Replay(ReplaySettings(self.file, PROVIDERS[self.format], self.model or "replay",
                                     self.chunk_size, self.interval))


UpstreamConfig = Annotated[
    OpenAIChatUpstream | OpenAIResponsesUpstream | AnthropicUpstream | GeminiUpstream | ReplayUpstream,
    Field(discriminator="provider"),
]


class RouteConfig(Strict):
    path: str
    upstream: str
    done: Literal["auto", "always", "never"] = "auto"
    event_lines: bool = False
    # REASONING_* events.  "auto": to AG-UI clients, not to BranderUX ones, whose documented event
    # table lists none and whose docs do not say unknown events are ignored (README, "What a
    # BranderUX client sees").  A tool call's own signature is sent either way (core/run.py).
    reasoning: bool | Literal["auto"] = "auto"
    # reliability and security
    fallbacks: list[str] = Field(default_factory=list)  # upstreams tried in order when the first fails early
    allow_models: list[str] = Field(default_factory=list)  # models the client may pick with params.model
    forward_headers: list[str] = Field(default_factory=list)  # client headers sent on to every upstream
    # Runs that outlive their connection: GET <path>/runs/<runId> (README "Resumable runs"); off: None.
    resumable: ResumableConfig | None = None

    def reasoning_for(self, client: str) -> bool:
        """Whether a run for this kind of client (``"agui"`` or ``"branderux"``) shows reasoning."""
        return self.reasoning if isinstance(self.reasoning, bool) else client == "agui"

    @field_validator("forward_headers")
    @classmethod
    def _route_forwardable(cls, names: list[str]) -> list[str]:
        return _forwardable(names)

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        return absolute_path(path)


class StreamsConfig(Strict):
    """Limits and lifecycle of the streams one process serves."""

    max_concurrent: int = Field(1000, ge=1)  # past it: 503 with Retry-After
    retry_after: int = Field(1, ge=0)  # seconds, in the Retry-After of those 503s
    keepalive: float = Field(15.0, ge=0)  # seconds of silence before a ": ping" comment; 0: never
    shutdown_grace: float = Field(25.0, ge=0)  # seconds streams get to finish after SIGTERM
    # Seconds a client may take nothing of what the proxy writes before its connection is closed
    # (nginx's send_timeout); its stream slot, lease and memory are freed then (server/send_timeout.py).
    send_timeout: float = Field(30.0, gt=0)


class Config(Strict):
    server: ServerConfig = ServerConfig()
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
    tracing: TracingConfig = TracingConfig()  # OpenTelemetry, off by default (config_tracing.py)
    runs: RunsConfig = RunsConfig()  # what the resumable routes' runs may keep, all routes together
    # GET /playground: a page to chat through the routes and watch the AG-UI stream (server/playground.py).
    # Off unless asked for (on in the embedded default): it lists the route paths to whoever can reach it.
    playground: bool = False
    # The network layer under the shared upstream client (config_transport.py), and its TLS checks.
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


def config_from_dict(data: Any, *, source: str = "<config>", env: Mapping[str, str] | None = None,
                     base_dir: Path | None = None) -> Config:
    """Validate a parsed document; a :class:`ConfigError` lists every problem found (``.problems``)."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping (server, auth, upstreams, routes)", path=source)
    unresolved = Unresolved(source)
    data = interpolate(data, os.environ if env is None else env, unresolved=unresolved)
    base_dir = base_dir or Path.cwd()
    try:
        config = Config.model_validate({**data, "base_dir": base_dir}, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = validation_problems(exc, Config, source=source, unresolved=unresolved.fields,
                                       translate=upstream_error)
        raise ConfigError.of([*unresolved.problems, *problems], source) from None
    if unresolved.problems:
        raise ConfigError.of(unresolved.problems, source)
    return config


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML config file; raises :class:`ConfigError`."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", path=str(source)) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", path=str(source)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"not valid YAML{line}: {getattr(exc, 'problem', exc)}", path=str(source)) from None
    return config_from_dict(data, source=str(source), env=env, base_dir=source.resolve().parent)


def default_config(host: str = "127.0.0.1", port: int = 8000) -> Config:
    """The embedded default: ``POST /api/agent`` answered by the built-in demo recording, and the playground."""
    return config_from_dict(
        {
            "server": {"host": host, "port": port},
            "upstreams": {"demo": {"provider": "replay", "format": "openai-chat"}},
            "routes": [{"path": "/api/agent", "upstream": "demo"}],
            "playground": True,
        },
        source="<embedded default>",
        env={},
    )
