"""The ``upstreams:`` section: one model per kind of upstream, told apart by ``provider:``, and
what every upstream has besides (timeouts, retries, forwarded headers, forwarded identity).

Each kind builds its provider (``build_provider``); the cloud kinds (Bedrock, Vertex AI) compute
their endpoint from where they run, and their credentials are the shell's (``agui_proxy/clouds``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from .config_base import HEADER_NAME, Strict, http_url
from .config_identity import ForwardIdentityConfig
from .providers import (
    PROVIDERS,
    Bedrock,
    BedrockSettings,
    Provider,
    Replay,
    ReplaySettings,
    VertexSettings,
    vertex_provider,
)
from .providers.bedrock import bedrock_endpoint
from .providers.vertex import vertex_endpoint

BUILTIN_RECORDING = Path(__file__).parent / "recordings" / "demo-openai-chat.sse"

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
        if not HEADER_NAME.match(lowered):
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


class _CloudUpstream(_HTTPUpstream):
    """An upstream in a cloud account: its endpoint follows from where it runs, credentials come
    from the cloud's own chain (``agui_proxy/clouds``).  ``base_url``, where given, is scheme,
    host and port only (a private endpoint): the proxy adds the API's path."""

    base_url: str = ""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url:
            return url
        http_url(url, "base_url")
        if urlsplit(url).path.strip("/") or urlsplit(url).query:
            raise ValueError(f"base_url is scheme, host and port only (the proxy adds the API's path), not {url!r}")
        return url.rstrip("/")

    def settings(self, model: str | None) -> dict[str, Any]:
        return {**super().settings(model), "base_url": self.base_url or self.default_endpoint()}

    def default_endpoint(self) -> str:
        raise NotImplementedError


class BedrockUpstream(_CloudUpstream):
    """AWS Bedrock's Converse API: IAM credentials (SigV4) from the AWS chain, or a Bedrock API key."""

    provider: Literal["bedrock"]
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    profile: str | None = None  # a named profile of the shared AWS files (else AWS_PROFILE, else the default)

    def default_endpoint(self) -> str:
        return bedrock_endpoint(self.region)

    def build_provider(self, model: str | None = None) -> Provider:
        return Bedrock(BedrockSettings(**self.settings(model), region=self.region))


class VertexUpstream(_CloudUpstream):
    """Gemini and Claude on Google Vertex AI, with Application Default Credentials."""

    provider: Literal["vertex"]
    project: str = Field(min_length=1)
    location: str = Field(pattern=r"^[a-z0-9-]+$")  # a region (europe-west4) or global

    @field_validator("api_key")
    @classmethod
    def _no_key(cls, key: str | None) -> str | None:
        if key is not None:
            raise ValueError("Vertex AI is reached with Application Default Credentials, not a key; leave api_key out")
        return key

    def default_endpoint(self) -> str:
        return vertex_endpoint(self.location)

    def build_provider(self, model: str | None = None) -> Provider:
        s = self.settings(model)
        return vertex_provider(VertexSettings(**s, project=self.project, location=self.location))


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
    OpenAIChatUpstream | OpenAIResponsesUpstream | AnthropicUpstream | GeminiUpstream | BedrockUpstream
    | VertexUpstream | ReplayUpstream,
    Field(discriminator="provider"),
]
