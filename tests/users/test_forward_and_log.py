"""forward_identity (a header, the provider's user field) and how the access log shows the identity."""

from __future__ import annotations

import json

import pytest

from agui_proxy.config import ForwardIdentityConfig, LoggingConfig
from agui_proxy.providers import UpstreamRequest
from agui_proxy.users.forward import with_identity
from agui_proxy.users.log_identity import IdentityLog


def request(body: dict[str, object]) -> UpstreamRequest:
    return UpstreamRequest("POST", "https://api.example/v1/x", {"authorization": "Bearer k"}, json.dumps(body).encode())


@pytest.mark.parametrize(("provider", "expected"), [
    ("openai-chat", {"model": "m", "user": "u-1"}),
    ("openai-responses", {"model": "m", "user": "u-1"}),
    ("anthropic", {"model": "m", "metadata": {"user_id": "u-1"}}),
])
def test_provider_field(provider: str, expected: dict[str, object]) -> None:
    sent = with_identity(request({"model": "m"}), provider, ForwardIdentityConfig(provider_field=True), "u-1")
    assert json.loads(sent.body) == expected
    assert sent.headers == {"authorization": "Bearer k"}


def test_the_proxy_not_the_client_says_who_the_user_is() -> None:
    original = request({"model": "m", "metadata": {"user_id": "forged", "other": 1}})
    sent = with_identity(original, "anthropic", ForwardIdentityConfig(provider_field=True), "u-1")
    assert json.loads(sent.body)["metadata"] == {"user_id": "u-1", "other": 1}
    assert json.loads(original.body)["metadata"]["user_id"] == "forged"  # the original is untouched


def test_header_only() -> None:
    original = request({"model": "m"})
    sent = with_identity(original, "gemini", ForwardIdentityConfig(header="X-User-ID"), "u-1")
    assert sent.headers["x-user-id"] == "u-1"
    assert sent.body == original.body


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "give header, provider_field: true, or both"),
    ({"header": "Authorization"}, "cannot carry the identity"),
    ({"header": "x user"}, "cannot carry the identity"),
])
def test_forward_config_refuses(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ForwardIdentityConfig(**fields)


def test_plain_and_hashed_user() -> None:
    plain = IdentityLog(LoggingConfig())
    assert plain.fields("alice@example.com", {}) == {"user": "alice@example.com"}
    assert plain.fields("a b\"c\n", {}) == {"user": "a_b_c_"}
    assert plain.fields(None, {"org": "x"}) == {}
    hashed = IdentityLog(LoggingConfig(identity="hash", identity_hash_key="k" * 32, identity_claims=["org", "n"]))
    again = IdentityLog(LoggingConfig(identity="hash", identity_hash_key="k" * 32))
    other_key = IdentityLog(LoggingConfig(identity="hash", identity_hash_key="j" * 32))
    fields = hashed.fields("alice@example.com", {"org": "acme corp", "n": 3, "ignored": "x"})
    assert fields["user"] == again.user("alice@example.com") != other_key.user("alice@example.com")
    assert len(fields["user"]) == 16 and "alice" not in fields["user"]
    assert fields["claim.org"] == "acme_corp" and fields["claim.n"] == "3" and "claim.ignored" not in fields
