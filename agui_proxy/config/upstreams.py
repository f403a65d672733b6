"""The ``upstreams:`` section: one model per kind of upstream, told apart by ``provider:``.

Each kind is the typed settings of its provider: the provider registry
(``agui_proxy/providers/registry.py``) builds the provider from it, and nothing here knows the
providers.  What every upstream has besides (timeouts, retries, forwarded headers, forwarded
identity) is the shell's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from .identity import ForwardIdentityConfig
from .strict import HEADER_NAME, Strict, http_url

BUILTIN_RECORDING = Path(__file__).resolve().parent.parent / "recordings" / "demo-openai-chat.sse"

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


def forwardable_headers(names: list[str]) -> list[str]:
    """``forward_headers`` (of an upstream or a route) lower-cased; a header never forwarded is a ValueError."""
    out = []
    for name in names:
        lowered = name.strip().lower()
        if not HEADER_NAME.fullmatch(lowered):
            raise ValueError(f"{name!r} is not a header name")
        if lowered in UNFORWARDABLE_HEADERS:
            raise ValueError(f"the {lowered} header is never forwarded to an upstream")
        out.append(lowered)
    return out


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
        return forwardable_headers(names)

    @property
    def label(self) -> str:  # what the upstream is, for a person (the playground's list)
        return self.provider


class HTTPUpstream(_Upstream):
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


# One model per provider spoken over HTTP.  The fields a kind adds to HTTPUpstream are its
# provider's own options (the registry, agui_proxy/providers/registry.py, hands them on by name).

class OpenAIChatUpstream(HTTPUpstream):
    provider: Literal["openai-chat"]
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"


class OpenAIResponsesUpstream(HTTPUpstream):
    provider: Literal["openai-responses"]


class AnthropicUpstream(HTTPUpstream):
    provider: Literal["anthropic"]


class GeminiUpstream(HTTPUpstream):
    provider: Literal["gemini"]


HTTP_UPSTREAMS: tuple[type[HTTPUpstream], ...] = (OpenAIChatUpstream, OpenAIResponsesUpstream, AnthropicUpstream,
                                                  GeminiUpstream)


def kind_of(model: type[_Upstream]) -> str:
    """The ``provider:`` name a kind of upstream is picked by (its tag in the union)."""
    names: tuple[str, ...] = get_args(model.model_fields["provider"].annotation)
    return names[0]


# The wire formats a recording can be in: the providers spoken over HTTP.
RECORDING_FORMATS = tuple(kind_of(model) for model in HTTP_UPSTREAMS)


class _CloudUpstream(HTTPUpstream):
    """An upstream in a cloud account: its endpoint follows from where it runs (the registry,
    ``agui_proxy/providers/registry.py``, computes it), its credentials come from the cloud's own
    chain (``agui_proxy/upstream/clouds``).  ``base_url``, where given, is scheme, host and port only
    (a private endpoint): the proxy adds the API's path."""

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


class BedrockUpstream(_CloudUpstream):
    """AWS Bedrock's Converse API: IAM credentials (SigV4) from the AWS chain, or a Bedrock API key."""

    provider: Literal["bedrock"]
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    profile: str | None = None  # a named profile of the shared AWS files (else AWS_PROFILE, else the default)


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


# The clouds' upstreams: Bedrock answers in AWS's event stream, Vertex AI in Gemini's or
# Anthropic's format by model; neither is a format a recording is in.
CLOUD_UPSTREAMS: tuple[type[_CloudUpstream], ...] = (BedrockUpstream, VertexUpstream)


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
        if name not in RECORDING_FORMATS:
            raise ValueError(f"unknown recording format {name!r} (one of: {', '.join(sorted(RECORDING_FORMATS))})")
        return name

    @field_validator("file")
    @classmethod
    def _from_config_dir(cls, path: Path, info: ValidationInfo) -> Path:
        base_dir = (info.context or {}).get("base_dir") or Path.cwd()
        return path if path.is_absolute() else Path(base_dir) / path

    @property
    def label(self) -> str:
        return f"{self.provider} ({self.format})"


UpstreamConfig = Annotated[
    OpenAIChatUpstream | OpenAIResponsesUpstream | AnthropicUpstream | GeminiUpstream | BedrockUpstream
    | VertexUpstream | ReplayUpstream,
    Field(discriminator="provider"),
]

# Every ``provider:`` a config may name.
UPSTREAM_KINDS = (*RECORDING_FORMATS, *(kind_of(model) for model in CLOUD_UPSTREAMS), kind_of(ReplayUpstream))


def upstream_error(error: ErrorDetails) -> tuple[tuple[Any, ...], str] | None:
    """A validation error inside ``upstreams.<name>`` as the field and message a person reads: the
    union's tag (``upstreams.x.openai-chat.base_url``) left out, an unknown ``provider:`` named."""
    loc = error["loc"]
    if loc[:1] != ("upstreams",) or len(loc) < 2:
        return None
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = (error.get("ctx") or {}).get("tag")
        known = ", ".join(sorted(UPSTREAM_KINDS))
        return (*loc, "provider"), "is required" if tag is None else f"unknown provider {tag!r} (one of: {known})"
    return ((*loc[:2], *loc[3:]), error["msg"]) if len(loc) > 2 and loc[2] in UPSTREAM_KINDS else None
