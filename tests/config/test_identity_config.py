"""The new config sections through the real loader: auth (named tokens, jwt), store, quotas,
logging.identity and forward_identity; each refusal names its field."""

from __future__ import annotations

from typing import Any

import pytest

from agui_proxy.config import config_from_dict
from agui_proxy.errors import ConfigError


def config(**sections: Any) -> dict[str, Any]:
    return {"upstreams": {"demo": {"provider": "replay"},
                          "g": {"provider": "gemini", "base_url": "https://g.example", "model": "m"}},
            "routes": [{"path": "/api/agent", "upstream": "demo"}], **sections}


def test_named_and_plain_tokens() -> None:
    tokens = ["plain-token", {"token": "billing-token", "name": "billing"}]
    loaded = config_from_dict(config(auth={"bearer_tokens": tokens}))
    assert loaded.auth.tokens == ["plain-token", "billing-token"]
    assert [t.name for t in loaded.auth.bearer_tokens] == [None, "billing"]
    assert "t2" not in repr(loaded.auth)


def test_quotas_and_store() -> None:
    loaded = config_from_dict(config(
        store={"url": "redis://127.0.0.1:6379/0"},
        quotas={"per_identity": {"requests_per_minute": 30, "concurrent_streams": 3},
                "plans": {"claim": "plan", "limits": {"pro": {"tokens_per_day": 5_000_000}}}}))
    assert loaded.quotas.enabled and loaded.quotas.on_store_error == "deny"
    assert loaded.store.url == "redis://127.0.0.1:6379/0" and "6379" not in repr(loaded.store)
    assert not config_from_dict(config()).quotas.enabled


@pytest.mark.parametrize(("sections", "field", "message"), [
    ({"auth": {"bearer_tokens": [""]}}, "auth.bearer_tokens[0].token", "the token is empty"),
    ({"auth": {"bearer_tokens": [{"token": "token-one-a", "name": "x"}, {"token": "token-two-b", "name": "x"}]}},
     "auth.bearer_tokens", "two tokens are named 'x'"),
    ({"auth": {"jwt": {"issuer": "https://i.example/"}}}, "auth.jwt.audience", "is required"),
    ({"auth": {"jwt": {"issuer": "https://i.example/", "audience": "a", "algorithms": ["none"]}}}, "auth.jwt",
     "never accepted"),
    ({"store": {"url": "http://redis"}}, "store.url", "redis://"),
    ({"quotas": {"per_identity": {"requests_per_minute": -1}}}, "quotas.per_identity.requests_per_minute",
     "greater than or equal to 0"),
    ({"quotas": {"on_store_error": "maybe"}}, "quotas.on_store_error", "'allow' or 'deny'"),
    ({"quotas": {"plans": {"claim": "plan"}}}, "quotas", "give at least one plan"),
    ({"logging": {"identity": "hash"}}, None, "logging.identity: hash needs logging.identity_hash_key"),
])
def test_refusals_name_the_field(sections: dict[str, Any], field: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(config(**sections), source="c.yaml")
    assert caught.value.field == field, str(caught.value)
    assert message in caught.value.detail


def test_forward_identity_provider_field_needs_a_provider_with_one() -> None:
    data = config()
    data["upstreams"]["g"]["forward_identity"] = {"provider_field": True}
    with pytest.raises(ConfigError, match=r"upstreams\.g\.forward_identity\.provider_field: gemini has no end-user"):
        config_from_dict(data)
    data["upstreams"]["g"]["forward_identity"] = {"header": "x-user-id"}
    assert config_from_dict(data).upstreams["g"].forward_identity is not None


def test_the_example_config_shows_every_identity_and_quota_option() -> None:
    """config.example.yaml names each option of the new sections (jwt and plans as comments)."""
    from pathlib import Path

    from agui_proxy.config import (
        ForwardIdentityConfig,
        JWTConfig,
        NamedToken,
        PlansConfig,
        QuotaLimits,
        QuotasConfig,
        StoreConfig,
    )

    text = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text()
    for model in (JWTConfig, NamedToken, ForwardIdentityConfig, StoreConfig, QuotasConfig, QuotaLimits, PlansConfig):
        for name in model.model_fields:
            assert f"{name}:" in text or f"{{{name}," in text, (model.__name__, name)
    for name in ("identity", "identity_hash_key", "identity_claims"):
        assert f"  {name}:" in text
