"""The operations sections of the config: probes, metrics, logging and CORS.

They are plain fields of :class:`~agui_proxy.config.Config`, which checks them against the other
sections (no two things served at one path, ``metrics.require_token`` needs tokens).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from .strict import HEADER_NAME, Strict, absolute_path

# Lower-case names: HTTP header names are case-insensitive and the ASGI scope gives them lower-cased.
# last-event-id: a resumable run's reattach (docs/resumable-runs.md).
DEFAULT_CORS_HEADERS = ("authorization", "content-type", "x-request-id", "last-event-id")
# An origin is scheme "://" host [":" port], nothing after (RFC 6454 section 6.1).
_ORIGIN = re.compile(r"[a-z][a-z0-9+.\-]*://[^/\s?#]+")


class ProbesConfig(Strict):
    """``GET /healthz`` (the process is up) and ``GET /readyz`` (ready for traffic): unauthenticated."""

    enabled: bool = True
    liveness_path: str = "/healthz"
    readiness_path: str = "/readyz"

    @field_validator("liveness_path", "readiness_path")
    @classmethod
    def _paths(cls, value: str) -> str:
        return absolute_path(value)


class MetricsConfig(Strict):
    """``GET /metrics`` in Prometheus text format."""

    enabled: bool = True
    path: str = "/metrics"
    require_token: bool = False  # true: the same bearer tokens as the routes (auth.bearer_tokens)

    @field_validator("path")
    @classmethod
    def _paths(cls, value: str) -> str:
        return absolute_path(value)


class LoggingConfig(Strict):
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


class CORSConfig(Strict):
    """Browser frontends on other origins.  No origin is allowed unless listed."""

    allow_origins: list[str] = Field(default_factory=list)
    allow_headers: list[str] = Field(default_factory=lambda: list(DEFAULT_CORS_HEADERS))
    # x-run-id: what a page reattaches to when a resumable run's connection drops.
    expose_headers: list[str] = Field(default_factory=lambda: ["x-request-id", "x-run-id"])
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
            if lowered != "null" and not _ORIGIN.fullmatch(lowered):
                raise ValueError(f"origin {i} ({origin!r}) is not scheme://host[:port] (e.g. https://app.example.com)")
            out.append(lowered)  # browsers send scheme and host lower-case
        return out

    @field_validator("allow_headers", "expose_headers")
    @classmethod
    def _header_names(cls, names: list[str]) -> list[str]:
        for i, name in enumerate(names):
            if name != "*" and not HEADER_NAME.fullmatch(name):
                raise ValueError(f"header {i} ({name!r}) is not a header name")
        return [name.lower() for name in names]

    def check_credentials(self) -> None:
        # Fetch standard, CORS protocol: with credentials, "*" is not a wildcard but a literal.
        if self.allow_credentials and ("*" in self.allow_headers or "*" in self.expose_headers):
            raise ValueError("cors: '*' in allow_headers or expose_headers does not work with allow_credentials "
                             "(browsers read it literally): list the header names")


def check_ops(metrics: MetricsConfig, cors: CORSConfig, bearer_tokens: list[str]) -> None:
    """The checks of these sections against the others (their paths: :func:`ops_paths`)."""
    if metrics.enabled and metrics.require_token and not bearer_tokens:
        raise ValueError("metrics.require_token: true needs auth.bearer_tokens (the tokens /metrics accepts)")
    cors.check_credentials()


def ops_paths(probes: ProbesConfig, metrics: MetricsConfig) -> list[tuple[str, str]]:
    """The paths these sections serve, by the field that sets each."""
    paths = []
    if probes.enabled:
        paths += [("probes.liveness_path", probes.liveness_path), ("probes.readiness_path", probes.readiness_path)]
    if metrics.enabled:
        paths.append(("metrics.path", metrics.path))
    return paths
