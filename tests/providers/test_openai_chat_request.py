"""The Chat Completions request built from a conversation, against the recorded real one."""

from __future__ import annotations

import json

import pytest

from ..support.harness import built_request
from ..support.recordings import recorded_request


def build(params: dict[str, object], **settings: object) -> tuple[dict[str, object], dict[str, str], str]:
    request = built_request("openai-chat", {"params": params}, base_url="https://api.example.test/v1/",
                            api_key="sk-key", model="gpt-4o-mini", **settings)
    return json.loads(request.body), request.headers, request.url


def test_tool_round_trip_matches_the_recorded_request() -> None:
    recorded = recorded_request("openai-chat/text-after-tool-result-include-usage.request.json")["body"]
    body, headers, url = build({
        "messages": recorded["messages"],
        "tools": {"openai": recorded["tools"]},
        "tool_choice": recorded["tool_choice"],
    })
    assert url == "https://api.example.test/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-key"
    for field in ("messages", "model", "stream", "stream_options", "tool_choice", "tools"):
        assert body[field] == recorded[field], field
    assert body["max_tokens"] == 4000


def test_system_first_converted_tools_and_extras() -> None:
    body, headers, _ = build(
        {"system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 50,
         "tools": {"anthropic": [{"name": "show", "description": "Show it", "input_schema": {"type": "object"}}]},
         "tool_choice": {"type": "any"}},
        headers={"OpenAI-Organization": "org-1"}, extra_body={"temperature": 0},
        max_tokens_param="max_completion_tokens",
    )
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert body["tools"] == [{"type": "function", "function": {"name": "show", "description": "Show it",
                                                               "parameters": {"type": "object"}}}]
    assert body["tool_choice"] == "required"
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert body["temperature"] == 0
    assert headers["OpenAI-Organization"] == "org-1"


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
def test_a_configured_authorization_header_replaces_the_api_key_one(name: str) -> None:
    # The operator's explicit header wins (docs/configuration.md, `upstreams.<name>.headers`): exactly one
    # authorization goes out.
    _, headers, _ = build({"messages": [{"role": "user", "content": "Hi"}]}, headers={name: "Bearer from-config"})
    sent = [(k, v) for k, v in headers.items() if k.lower() == "authorization"]
    assert sent == [(name, "Bearer from-config")]


def test_configured_stream_options_keep_include_usage() -> None:
    # Without include_usage the upstream sends no usage chunk and the run loses its usage.
    body, _, _ = build({"messages": [{"role": "user", "content": "Hi"}]},
                       extra_body={"stream_options": {"include_obfuscation": False}})
    assert body["stream_options"] == {"include_usage": True, "include_obfuscation": False}


def test_images_become_image_url_parts() -> None:
    body, _, _ = build({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}]})
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "what?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
