"""The GenAI semantic conventions' names of the cloud upstreams, and where their tries go."""

from __future__ import annotations

from typing import Any

import pytest

from agui_proxy.config import UpstreamConfig, config_from_dict
from agui_proxy.tracing.genai import operation_name, provider_name, server_address


def upstream(**settings: Any) -> UpstreamConfig:
    config = config_from_dict({"upstreams": {"u": settings}, "routes": [{"path": "/a", "upstream": "u"}]})
    return config.upstreams["u"]


BEDROCK = {"provider": "bedrock", "region": "eu-central-1", "model": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}
VERTEX = {"provider": "vertex", "project": "p", "location": "europe-west4"}


@pytest.mark.parametrize(("settings", "provider", "operation", "address"), [
    (BEDROCK, "aws.bedrock", "chat", ("bedrock-runtime.eu-central-1.amazonaws.com", 443)),
    ({**BEDROCK, "base_url": "http://127.0.0.1:8443"}, "aws.bedrock", "chat", ("127.0.0.1", 8443)),
    ({**VERTEX, "model": "gemini-2.5-pro"}, "gcp.vertex_ai", "generate_content",
     ("europe-west4-aiplatform.googleapis.com", 443)),
    ({**VERTEX, "location": "global", "model": "claude-sonnet-4-5@20250929"}, "gcp.vertex_ai", "chat",
     ("aiplatform.googleapis.com", 443)),
])
def test_cloud_upstreams_by_the_conventions(settings: dict[str, Any], provider: str, operation: str,
                                            address: tuple[str, int]) -> None:
    u = upstream(**settings)
    assert (provider_name(u), operation_name(u), server_address(u)) == (provider, operation, address)
