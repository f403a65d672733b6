"""What a config serves, in a few lines: the start-up summary and ``agui-proxy check``'s report.

:func:`summary` gives the facts as a mapping (the JSON log's fields), :func:`render` as text::

    agui-proxy 0.1.0
      config    /etc/agui-proxy/config.yaml
      routes    POST /api/agent -> openai (openai-chat, gpt-4o; fallbacks: local)
      auth      bearer tokens (1)
      ...

Nothing secret is in it: upstream names, providers, models, paths and origins only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..config import BUILTIN_RECORDING, Config, ReplayUpstream, UpstreamConfig


def _upstream(config: Config, name: str, upstream: UpstreamConfig) -> str:
    if isinstance(upstream, ReplayUpstream):
        recording = "the built-in demo recording" if upstream.file == BUILTIN_RECORDING else upstream.file
        return f"{name} (replay of {recording}, {upstream.format} format)"
    return f"{name} ({upstream.provider}, {upstream.model})"


def _routes(config: Config) -> list[str]:
    lines = []
    for route in config.routes:
        line = f"POST {route.path} -> {_upstream(config, route.upstream, config.upstreams[route.upstream])}"
        if route.fallbacks:
            line += "; fallbacks: " + ", ".join(
                _upstream(config, name, config.upstreams[name]) for name in route.fallbacks)
        lines.append(line)
    return lines


def auth_kind(config: Config) -> str:
    kinds = []
    tokens = len(config.auth.bearer_tokens)
    if tokens:
        kinds.append(f"auth.bearer_tokens ({tokens} {'token' if tokens == 1 else 'tokens'})")
    jwt = config.auth.jwt
    if jwt is not None:
        kinds.append(f"JWT ({jwt.issuer or jwt.jwks_url or 'a shared secret'})")
    return " + ".join(kinds) or "none: the routes take requests without a token"


def store_kind(config: Config) -> str:
    url = config.store.url
    if url is None:
        return "this process's memory (quotas per process)"
    parts = urlsplit(url)  # never the password: scheme, host, port and database only
    where = f"{parts.hostname}:{parts.port or 6379}{parts.path}" if parts.hostname else parts.path
    return f"Redis at {parts.scheme}://{where}"


def _operations(config: Config) -> dict[str, str]:
    probes = (f"{config.probes.liveness_path}, {config.probes.readiness_path}" if config.probes.enabled
              else "off")
    metrics = "off"
    if config.metrics.enabled:
        metrics = config.metrics.path + (" (bearer token required)" if config.metrics.require_token else "")
    return {"probes": probes, "metrics": metrics}


def tracing_state(config: Config, env: Mapping[str, str]) -> str:
    tracing = config.tracing
    if not tracing.is_on(env):
        return "off"
    where = (tracing.endpoint or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
             or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318 (the OTLP default)")
    return f"OTLP/HTTP to {where}"


def summary(config: Config, *, version: str, config_path: str | None, workers: int,
            env: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The start-up summary's fields, in the order they are printed."""
    env = os.environ if env is None else env
    cors = ", ".join(config.cors.allow_origins) or "none (same origin only)"
    facts: dict[str, Any] = {
        "version": version,
        "config": config_path if config_path is not None else "the embedded demo (no file)",
        "routes": _routes(config),
        "auth": auth_kind(config),
        "cors": cors,
        **_operations(config),
        "playground": "/playground" if config.playground else "off",
        "tracing": tracing_state(config, env),
        "workers": workers,
        "store": store_kind(config),
    }
    facts.update(extra or {})
    return facts


def render(facts: Mapping[str, Any]) -> str:
    """The summary as text: ``agui-proxy <version>`` and one aligned line per fact."""
    lines = [f"agui-proxy {facts['version']}"]
    width = max(len(key) for key in facts)
    for key, value in facts.items():
        if key == "version":
            continue
        values = value if isinstance(value, list) else [value]
        for i, item in enumerate(values):
            lines.append(f"  {key if i == 0 else '':<{width}}  {item}")
    return "\n".join(lines)
