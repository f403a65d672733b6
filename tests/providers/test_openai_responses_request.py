"""The Responses API request built from a BranderUX body (FORMATS.md section 3, request)."""

from __future__ import annotations

import json
from typing import Any

from ..support.harness import built_request

WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def build(params: dict[str, Any], **settings: Any) -> tuple[dict[str, Any], dict[str, str], str, dict[str, str]]:
    settings.setdefault("api_key", "sk-key")
    request = built_request("openai-responses", {"params": params}, base_url="https://api.example.test/v1/",
                            model="gpt-5", **settings)
    return json.loads(request.body), request.headers, request.url, request.params


def test_endpoint_auth_and_the_minimal_body() -> None:
    body, headers, url, query = build({"messages": [{"role": "user", "content": "Hi"}]})
    assert url == "https://api.example.test/v1/responses" and query == {}
    assert headers == {"content-type": "application/json", "accept": "text/event-stream",
                       "authorization": "Bearer sk-key"}
    assert body == {"model": "gpt-5", "input": [{"role": "user", "content": "Hi"}], "max_output_tokens": 4000,
                    "stream": True}


def test_system_is_instructions_and_max_tokens_is_max_output_tokens() -> None:
    body, _, _, _ = build({"system": "Be brief.", "max_tokens": 300,
                           "messages": [{"role": "system", "content": "Use metric units."},
                                        {"role": "user", "content": "Weather?"}]})
    assert body["instructions"] == "Be brief.\n\nUse metric units."
    assert body["input"] == [{"role": "user", "content": "Weather?"}]
    assert body["max_output_tokens"] == 300


def test_chat_shaped_openai_tools_are_flattened() -> None:
    chat_tool = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                                  "parameters": WEATHER_PARAMS, "strict": True}}
    already_flat = {"type": "function", "name": "get_time", "description": "", "parameters": {"type": "object"}}
    body, _, _, _ = build({"messages": [{"role": "user", "content": "Hi"}],
                           "tools": {"openai": [chat_tool, already_flat], "anthropic": [{"name": "ignored"}]}})
    assert body["tools"] == [
        {"type": "function", "name": "get_weather", "description": "Weather in a city", "parameters": WEATHER_PARAMS,
         "strict": True},
        already_flat,
    ]


def test_other_providers_tools_are_converted() -> None:
    body, _, _, _ = build({"messages": [{"role": "user", "content": "Hi"}], "tools": {
        "anthropic": [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_PARAMS}]}})
    assert body["tools"] == [{"type": "function", "name": "get_weather", "description": "Weather",
                              "parameters": WEATHER_PARAMS}]
    body, _, _, _ = build({"messages": [{"role": "user", "content": "Hi"}], "tools": {
        "gemini": [{"name": "get_weather", "description": "Weather",
                    "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}]}})
    assert body["tools"] == [{"type": "function", "name": "get_weather", "description": "Weather",
                              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def test_tool_choice_in_the_responses_shape() -> None:
    tools = {"openai": [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_PARAMS}}]}
    cases = [({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "none"),
             ({"type": "tool", "name": "get_weather"}, {"type": "function", "name": "get_weather"}),
             ({"type": "function", "function": {"name": "get_weather"}}, {"type": "function", "name": "get_weather"}),
             ("required", "required")]
    for given, sent in cases:
        body, _, _, _ = build({"messages": [{"role": "user", "content": "Hi"}], "tools": tools,
                               "tool_choice": given})
        assert body["tool_choice"] == sent, given
    body, _, _, _ = build({"messages": [{"role": "user", "content": "Hi"}], "tool_choice": {"type": "any"}})
    assert "tool_choice" not in body and "tools" not in body  # no tools: nothing to choose from


def test_images_are_input_image_parts() -> None:
    body, _, _, _ = build({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}}]}]})
    assert body["input"] == [{"role": "user", "content": [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
        {"type": "input_image", "image_url": "https://example.test/cat.jpg", "detail": "auto"}]}]


def test_config_body_extras_are_merged_last() -> None:
    extras = {"reasoning": {"effort": "low", "summary": "auto"}, "store": False,
              "include": ["reasoning.encrypted_content"], "max_output_tokens": 64}
    body, headers, _, query = build({"messages": [{"role": "user", "content": "Hi"}]}, extra_body=extras,
                                    headers={"OpenAI-Project": "proj_1"}, query={"api-version": "preview"})
    for field, value in extras.items():
        assert body[field] == value, field
    assert headers["OpenAI-Project"] == "proj_1" and query == {"api-version": "preview"}


def test_no_key_no_authorization_header() -> None:
    _, headers, _, _ = build({"messages": [{"role": "user", "content": "Hi"}]}, api_key=None,
                             headers={"api-key": "azure-key"})
    assert "authorization" not in headers and headers["api-key"] == "azure-key"
