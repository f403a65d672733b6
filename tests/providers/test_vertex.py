"""Vertex AI: Gemini and Claude requests under a project's paths, read by the direct APIs'
translators (Gemini's recorded Vertex stream among them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agui_proxy.config import config_from_dict
from agui_proxy.core.inbound import read_request
from agui_proxy.providers import Provider, UpstreamRequest, build_provider
from tests.support.agui_check import text_of
from tests.support.harness import run_events
from tests.support.recordings import STREAMS
from tests.support.upstream import sse_bytes

BODY = {"params": {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                   "max_tokens": 100}}


def vertex(model: str, location: str = "europe-west4", **extra: Any) -> Provider:
    config = config_from_dict({"upstreams": {"v": {"provider": "vertex", "project": "my-project",
                                                   "location": location, "model": model, **extra}},
                               "routes": [{"path": "/a", "upstream": "v"}]})
    return build_provider(config.upstreams["v"])


def build(prov: Provider) -> UpstreamRequest:
    request = prov.build_request(read_request(json.dumps(BODY).encode()).conversation)
    assert isinstance(request, UpstreamRequest)
    return request


def test_gemini_under_the_google_publisher() -> None:
    request = build(vertex("gemini-2.5-pro"))
    assert request.url == ("https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project/locations/"
                           "europe-west4/publishers/google/models/gemini-2.5-pro:streamGenerateContent")
    assert request.params == {"alt": "sse"}
    assert "authorization" not in request.headers and "x-goog-api-key" not in request.headers
    body = json.loads(request.body)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_claude_under_the_anthropic_publisher_without_a_model_in_the_body() -> None:
    request = build(vertex("claude-sonnet-4-5@20250929", location="global"))
    assert request.url == ("https://aiplatform.googleapis.com/v1/projects/my-project/locations/global/"
                           "publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict")
    assert request.params == {}
    body = json.loads(request.body)
    assert body == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 100, "stream": True, "system": "Be brief.",
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}
    assert "anthropic-version" not in request.headers and "x-api-key" not in request.headers


def test_an_endpoint_override_keeps_the_path() -> None:
    request = build(vertex("gemini-2.5-flash", base_url="http://127.0.0.1:8081"))
    assert request.url.startswith("http://127.0.0.1:8081/v1/projects/my-project/locations/europe-west4/")


def test_an_api_key_is_refused() -> None:
    with pytest.raises(Exception, match="Application Default Credentials"):
        vertex("gemini-2.5-pro", api_key="AIzaSy-not-for-vertex")


def test_the_recorded_vertex_gemini_stream() -> None:
    path = STREAMS / "gemini" / "vertex-service-tier-flex.sse"
    if not path.exists():
        pytest.skip(f"the shared recordings are not at {STREAMS}")
    events = run_events(vertex("gemini-3-flash-preview", location="global"), path.read_bytes())
    assert text_of(events) == "OK" and events[-1]["type"] == "RUN_FINISHED"


def test_claude_on_vertex_reads_anthropic_events() -> None:
    data = sse_bytes(
        {"type": "message_start", "message": {"model": "claude-sonnet-4-5", "usage": {"input_tokens": 9}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"}, event_lines=True)
    events = run_events(vertex("claude-sonnet-4-5"), data)
    assert text_of(events) == "Hello"
    assert events[-1]["usage"][0]["inputTokens"] == 9
