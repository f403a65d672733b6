"""The provider registry: the kinds the config accepts are the providers it can build, and an
upstream's typed settings reach the provider it builds (its own options included)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from agui_proxy.config import config_from_dict
from agui_proxy.config.upstreams import HTTP_UPSTREAMS, RECORDING_FORMATS, UPSTREAM_KINDS, HTTPUpstream, kind_of
from agui_proxy.core.inbound import read_request
from agui_proxy.providers import PROVIDERS, SOURCES, ChatSettings, Replay, UpstreamRequest, build_provider

HELLO = read_request(b'{"params": {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 50}}').conversation


def test_the_config_and_the_registry_know_the_same_providers() -> None:
    assert sorted(UPSTREAM_KINDS) == sorted(SOURCES)
    assert sorted(RECORDING_FORMATS) == sorted(PROVIDERS)


def test_each_providers_own_options_are_fields_of_its_settings() -> None:
    """What a kind of upstream adds to HTTPUpstream is handed on by name: its provider's settings
    class has a field of each name (else building the provider would fail at the first request)."""
    for model in HTTP_UPSTREAMS:
        own = set(model.model_fields) - set(HTTPUpstream.model_fields)
        settings = {f.name for f in dataclasses.fields(PROVIDERS[kind_of(model)].settings_class)}
        assert own <= settings, (kind_of(model), own - settings)


def test_an_upstreams_settings_reach_its_provider() -> None:
    config = config_from_dict({
        "upstreams": {"chat": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9/v1", "model": "m1",
                               "api_key": "sk-registry-test", "headers": {"x-team": "a"}, "query": {"v": "2"},
                               "body": {"temperature": 0.5}, "max_tokens_param": "max_completion_tokens"}},
        "routes": [{"path": "/a", "upstream": "chat"}],
    }, env={})
    provider = build_provider(config.upstreams["chat"], "m2")
    assert isinstance(provider, PROVIDERS["openai-chat"])
    assert provider.settings == ChatSettings(base_url="http://127.0.0.1:9/v1", model="m2", api_key="sk-registry-test",
                                             headers={"x-team": "a"}, query={"v": "2"},
                                             extra_body={"temperature": 0.5}, max_tokens_param="max_completion_tokens")
    request = provider.build_request(HELLO)
    assert isinstance(request, UpstreamRequest)
    body = json.loads(request.body)
    assert body["model"] == "m2" and body["temperature"] == 0.5 and body["max_completion_tokens"] == 50
    assert request.headers["authorization"] == "Bearer sk-registry-test" and request.params == {"v": "2"}


def test_a_replay_upstream_builds_a_replay_in_its_format(tmp_path: Path) -> None:
    config = config_from_dict({
        "upstreams": {"demo": {"provider": "replay", "format": "anthropic", "file": "one.sse", "chunk_size": 5}},
        "routes": [{"path": "/a", "upstream": "demo"}],
    }, env={}, base_dir=tmp_path)
    provider = build_provider(config.upstreams["demo"])
    assert isinstance(provider, Replay)
    assert provider.settings.format is PROVIDERS["anthropic"] and provider.settings.file == tmp_path / "one.sse"
    assert provider.settings.chunk_size == 5
