"""The operations sections of the config: probes, metrics, logging and CORS.

They live apart from ``config.py`` (which holds the proxy's routes and upstreams) and are plain
fields of :class:`~agui_proxy.config.Config`; :func:`check_ops` is its cross-section check (a
route may not take a probe's or the metrics' path; ``metrics.require_token`` needs tokens).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Lower-case names: HTTP header names are case-insensitive and the ASGI scope gives them lower-cased.
DEFAULT_CORS_HEADERS = ("authorization", "content-type", "x-request-id")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 section 5.6.2: a header name
# An origin is scheme "://" host [":" port], nothing after (RFC 6454 section 6.1).
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.\-]*://[^/\s?#]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"a path starts with '/', not {value!r}")
    return value


class ProbesConfig(_Strict):
    """``GET /healthz`` (the process is up) and ``GET /readyz`` (ready for traffic): unauthenticated."""

    enabled: bool = True
    liveness_path: str = "/healthz"
    readiness_path: str = "/readyz"

    @field_validator("liveness_path", "readiness_path")
    @classmethod
    def _paths(cls, value: str) -> str:
        return _path(value)


class MetricsConfig(_Strict):
    """``GET /metrics`` in Prometheus text format."""

    enabled: bool = True
    path: str = "/metrics"
    require_token: bool = False  # true: the same bearer tokens as the routes (auth.bearer_tokens)

    @field_validator("path")
    @classmethod
    def _paths(cls, value: str) -> str:
        return _path(value)


class LoggingConfig(_Strict):
    format: Literal["plain", "json"] = "plain"
    level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True  # one line per request when it ends
    # Adds the request body and the streamed response to the access line.  They are the users'
    # conversations: for debugging only, never in production.
    debug_content: bool = False
    # Who sent each request, in the access line (user=): as it is, or a keyed hash of it (privacy).
    identity: Literal["plain", "hash"] = "plain"
    identity_hash_key: str | None = Field(None, repr=False)  # the hash's key (a secret); needed for hash
    identity_claims: list[str] = Field(default_factory=list)  # claims logged with it (claim.<name>=)


class CORSConfig(_Strict):
    """Browser frontends on other origins.  No origin is allowed unless listed."""

    allow_origins: list[str] = Field(default_factory=list)
    allow_headers: list[str] = Field(default_factory=lambda: list(DEFAULT_CORS_HEADERS))
    expose_headers: list[str] = Field(default_factory=lambda: ["x-request-id"])
    allow_credentials: bool = False
    max_age: int = Field(600, ge=0)

    @field_validator("allow_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        out = []
        for i, origin in enumerate(origins):
            if origin == "*":
                out.append(origin)
                continue
            lowered = origin.lower()
            if lowered.endswith("/"):
                raise ValueError(f"origin {i} ({origin!r}) ends with '/': an origin has no path, "
                                 f"write {origin.rstrip('/')!r}")
            if lowered != "null" and not _ORIGIN.match(lowered):
                raise ValueError(f"origin {i} ({origin!r}) is not scheme://host[:port] (e.g. https://app.example.com)")
            out.append(lowered)  # browsers send scheme and host lower-case
        return out

    @field_validator("allow_headers", "expose_headers")
    @classmethod
    def _header_names(cls, names: list[str]) -> list[str]:
        for i, name in enumerate(names):
            if name != "*" and not _TOKEN.match(name):
                raise ValueError(f"header {i} ({name!r}) is not a header name")
        return [name.lower() for name in names]

    def check_credentials(self) -> None:
        # Fetch standard, CORS protocol: with credentials, "*" is not a wildcard but a literal.
        if self.allow_credentials and ("*" in self.allow_headers or "*" in self.expose_headers):
            raise ValueError("cors: '*' in allow_headers or expose_headers does not work with allow_credentials "
                             "(browsers read it literally): list the header names")


def check_ops(route_paths: Iterable[str], probes: ProbesConfig, metrics: MetricsConfig, cors: CORSConfig,
              bearer_tokens: list[str]) -> None:
    """The checks across sections; raises ``ValueError`` with the field in its message."""
    taken: dict[str, str] = {}
    if probes.enabled:
        taken[probes.liveness_path] = "probes.liveness_path"
        if probes.readiness_path in taken:
            raise ValueError(f"probes.readiness_path: {probes.readiness_path!r} is also probes.liveness_path")
        taken[probes.readiness_path] = "probes.readiness_path"
    if metrics.enabled:
        if metrics.path in taken:
            raise ValueError(f"metrics.path: {metrics.path!r} is also {taken[metrics.path]}")
        taken[metrics.path] = "metrics.path"
        if metrics.require_token and not bearer_tokens:
            raise ValueError("metrics.require_token: true needs auth.bearer_tokens (the tokens /metrics accepts)")
    for i, path in enumerate(route_paths):
        if path in taken:
            raise ValueError(f"routes[{i}].path: {path!r} is also {taken[path]} (move one of them)")
    cors.check_credentials()
