"""What an upstream is, in the words of OpenTelemetry's GenAI semantic conventions.

``gen_ai.provider.name`` and ``gen_ai.operation.name`` of each upstream try's client span,
and the ``server.address`` / ``server.port`` it goes to.  Plain functions of the config: no
OpenTelemetry import.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import REPLAY, UpstreamConfig

REPLAY_PROVIDER = "agui_proxy.replay"  # not a GenAI system: a recording played back


def _host(upstream: UpstreamConfig) -> str:
    return (urlsplit(upstream.base_url or "").hostname or "").lower()


def provider_name(upstream: UpstreamConfig) -> str:
    """``openai``, ``azure.ai.openai``, ``anthropic``, ``gcp.gemini`` or ``gcp.vertex_ai``."""
    host = _host(upstream)
    if upstream.provider == REPLAY:
        return REPLAY_PROVIDER
    if upstream.provider.startswith("openai-"):
        return "azure.ai.openai" if host.endswith(".openai.azure.com") else "openai"
    if upstream.provider == "gemini":
        return "gcp.vertex_ai" if host.endswith("aiplatform.googleapis.com") else "gcp.gemini"
    return upstream.provider  # anthropic


def operation_name(upstream: UpstreamConfig) -> str:
    """Gemini's API is ``generateContent``; the others are chat APIs."""
    provider = upstream.format if upstream.provider == REPLAY else upstream.provider
    return "generate_content" if provider == "gemini" else "chat"


def server_address(upstream: UpstreamConfig) -> tuple[str, int] | None:
    if upstream.provider == REPLAY or not upstream.base_url:
        return None
    parts = urlsplit(upstream.base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (parts.hostname or "", port)
