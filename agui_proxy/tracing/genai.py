"""What an upstream is, in the words of OpenTelemetry's GenAI semantic conventions.

``gen_ai.provider.name`` and ``gen_ai.operation.name`` of each upstream try's client span,
and the ``server.address`` / ``server.port`` it goes to.  Plain functions of the config: no
OpenTelemetry import.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import BedrockUpstream, ReplayUpstream, UpstreamConfig, VertexUpstream
from ..providers.bedrock import bedrock_endpoint
from ..providers.vertex import is_claude, vertex_endpoint

REPLAY_PROVIDER = "agui_proxy.replay"  # not a GenAI system: a recording played back
CLOUD_PROVIDER_NAMES = {"bedrock": "aws.bedrock", "vertex": "gcp.vertex_ai"}


def _base_url(upstream: UpstreamConfig) -> str:
    """Where the upstream's requests go: a cloud upstream without ``base_url`` goes to its region's
    or location's endpoint."""
    if isinstance(upstream, ReplayUpstream):
        return ""
    if isinstance(upstream, BedrockUpstream):
        return upstream.base_url or bedrock_endpoint(upstream.region)
    if isinstance(upstream, VertexUpstream):
        return upstream.base_url or vertex_endpoint(upstream.location)
    return upstream.base_url


def provider_name(upstream: UpstreamConfig) -> str:
    """``openai``, ``azure.ai.openai``, ``anthropic``, ``gcp.gemini``, ``gcp.vertex_ai`` or ``aws.bedrock``."""
    host = (urlsplit(_base_url(upstream)).hostname or "").lower()
    if isinstance(upstream, ReplayUpstream):
        return REPLAY_PROVIDER
    if upstream.provider.startswith("openai-"):
        return "azure.ai.openai" if host.endswith(".openai.azure.com") else "openai"
    if upstream.provider == "gemini":
        return "gcp.vertex_ai" if host.endswith("aiplatform.googleapis.com") else "gcp.gemini"
    if upstream.provider in CLOUD_PROVIDER_NAMES:
        return CLOUD_PROVIDER_NAMES[upstream.provider]
    return upstream.provider  # anthropic


def operation_name(upstream: UpstreamConfig) -> str:
    """Gemini's API is ``generateContent``; the others are chat APIs."""
    provider = upstream.format if isinstance(upstream, ReplayUpstream) else upstream.provider
    if provider == "vertex":  # Gemini's generateContent, or Claude's Messages under Vertex's paths
        return "chat" if is_claude(upstream.model) else "generate_content"
    return "generate_content" if provider == "gemini" else "chat"


def server_address(upstream: UpstreamConfig) -> tuple[str, int] | None:
    if not _base_url(upstream):
        return None
    parts = urlsplit(_base_url(upstream))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (parts.hostname or "", port)
