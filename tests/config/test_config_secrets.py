"""The config's rule for short secrets (issue 15 item 7): an inbound token under 8 characters is
refused at load (it could be guessed, and it cannot be redacted in pieces); a provider key under 8
characters (Ollama's documented ``ollama``) is accepted with a warning naming the field, and is
redacted only as a whole value (tests/core/test_redact_short.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from agui_proxy.config import config_from_dict
from agui_proxy.errors import ConfigError


def config(token: str | None = None, api_key: str = "sk-long-enough-key") -> dict[str, Any]:
    out: dict[str, Any] = {
        "upstreams": {"local": {"provider": "openai-chat", "base_url": "http://127.0.0.1:11434/v1",
                                "api_key": api_key, "model": "llama3"}},
        "routes": [{"path": "/api/agent", "upstream": "local"}],
    }
    if token is not None:
        out["auth"] = {"bearer_tokens": ["a-good-long-token", token]}
    return out


@pytest.mark.parametrize("token", ["Q", "Zq9", "1234567"])
def test_an_inbound_token_under_8_characters_is_refused(token: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_dict(config(token), source="agui.yaml", env={})
    message = str(raised.value)
    assert "agui.yaml: auth.bearer_tokens" in message and "token 1" in message and "8 characters" in message
    assert token not in message.replace("bearer_tokens", "")  # the error never quotes the token


def test_an_inbound_token_of_8_characters_is_accepted() -> None:
    assert config_from_dict(config("12345678"), env={}).auth.tokens[1] == "12345678"


def test_a_short_provider_key_is_accepted_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agui_proxy"):
        loaded = config_from_dict(config(api_key="ollama"), source="agui.yaml", env={})
    assert loaded.upstreams["local"].api_key == "ollama"
    (record,) = [r for r in caplog.records if "upstreams.local.api_key" in r.getMessage()]
    assert "under 8 characters" in record.getMessage() and "whole value" in record.getMessage()
    assert "ollama" not in record.getMessage().replace("upstreams.local", "")
