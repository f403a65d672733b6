"""auth.jwt against a loopback identity provider (tests/users/issuer.py): what is accepted, each
refusal with its own message, key rotation and the refetch cap.

The verifier runs in-process with its real httpx client against the issuer; the key set's clock is
the test's, so "30 s later" is a number, not a wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.api_jws import PyJWS

from agui_proxy.config import JWTConfig
from agui_proxy.errors import AuthError, InboundError
from agui_proxy.users import JWTVerifier, VerifiedToken
from tests.support.clock import ManualClock
from tests.support.issuer import AUDIENCE, ECKey, Issuer, RSAKey, hand_signed

RSA1, RSA2, EC1 = RSAKey("rsa-1"), RSAKey("rsa-2"), ECKey("ec-1")
SECRET = "s" * 40


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with Issuer() as server:
        server.add_key(RSA1)
        server.add_key(EC1)
        yield server


def with_verifier(config: JWTConfig, body: Callable[[JWTVerifier], Awaitable[Any]],
                  clock: ManualClock | None = None) -> Any:
    async def main() -> Any:
        async with httpx.AsyncClient(trust_env=False) as client:
            verifier = JWTVerifier(config, lambda: client, clock=clock or ManualClock())
            return await body(verifier)
    return asyncio.run(main())


def verify(config: JWTConfig, token: str) -> VerifiedToken:
    result: VerifiedToken = with_verifier(config, lambda v: v.verify(token))
    return result


def refusal(config: JWTConfig, token: str) -> str:
    with pytest.raises(AuthError) as caught:
        verify(config, token)
    error = caught.value
    assert (error.status, error.type) == (401, "unauthorized")
    assert error.headers == ((b"www-authenticate", b'Bearer error="invalid_token"'),)
    assert token not in error.message and token.split(".")[0] not in error.message
    return error.message


def keys_config(issuer: Issuer, **overrides: Any) -> JWTConfig:
    return JWTConfig(**{"issuer": issuer.url, "audience": AUDIENCE, **overrides})


# -- accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [RSA1, EC1], ids=["RS256", "ES256"])
def test_accepted_with_keys_from_discovery(issuer: Issuer, key: RSAKey | ECKey) -> None:
    verified = verify(keys_config(issuer), issuer.sign(key, sub="alice", plan="pro"))
    assert verified.identity == "alice"
    assert verified.claims["plan"] == "pro"
    assert issuer.hits("/.well-known/openid-configuration") == 1 and issuer.hits("/jwks.json") == 1


def test_accepted_with_jwks_url_and_no_discovery(issuer: Issuer) -> None:
    issuer.discovery = False
    config = JWTConfig(jwks_url=issuer.url + "jwks.json", audience=AUDIENCE, algorithms=["RS256"])
    assert verify(config, issuer.sign(RSA1, iss="anyone")).identity == "user-1"
    assert issuer.hits("/.well-known/openid-configuration") == 0


def test_identity_claim_and_audience_list(issuer: Issuer) -> None:
    config = keys_config(issuer, identity_claim="email", audience=["other", AUDIENCE])
    assert verify(config, issuer.sign(RSA1, email="a@example.com")).identity == "a@example.com"


def test_hs256_with_secret() -> None:
    config = JWTConfig(secret=SECRET, audience="authenticated", issuer="https://x.supabase.co/auth/v1")
    claims = {"sub": "u-9", "aud": "authenticated", "iss": "https://x.supabase.co/auth/v1", "exp": 2_000_000_000}
    assert verify(config, jwt.encode(claims, SECRET, algorithm="HS256")).identity == "u-9"
    wrong = jwt.encode(claims, "t" * 40, algorithm="HS256")
    assert refusal(config, wrong) == "the token's signature does not verify"
    assert "not one of auth.jwt.algorithms" in refusal(config, jwt.encode(claims, "x" * 64, algorithm="HS512"))


def test_leeway_allows_a_just_expired_token(issuer: Issuer) -> None:
    import time
    token = issuer.sign(RSA1, exp=int(time.time()) - 10)
    assert verify(keys_config(issuer, leeway=60), token).identity == "user-1"
    assert refusal(keys_config(issuer, leeway=0), token) == "the token has expired (exp is past)"


# -- each refusal, its own message ------------------------------------------------------------------


def refusals(issuer: Issuer) -> list[tuple[str, str, str]]:
    import time
    now = int(time.time())
    rsa_public_pem = RSA1.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    head, body, _ = issuer.sign(RSA1).split(".")
    signed_not_json = PyJWS().encode(b"not json", RSA1.private, algorithm="RS256", headers={"kid": "rsa-1"})
    other_signature = issuer.sign(RSA1, sub="someone-else").split(".")[2]
    return [
        ("expired", issuer.sign(RSA1, exp=now - 3600), "the token has expired (exp is past)"),
        ("not yet valid", issuer.sign(RSA1, nbf=now + 3600), "not valid yet (nbf or iat is in the future)"),
        ("issued in the future", issuer.sign(RSA1, iat=now + 3600), "the token is not valid yet"),
        ("wrong issuer", issuer.sign(RSA1, iss="https://evil.example/"), "the token is from another issuer"),
        ("no issuer", issuer.sign(RSA1, iss=None), "the token has no 'iss' claim"),
        ("wrong audience", issuer.sign(RSA1, aud="someone"), "not for this proxy (aud does not hold agui-proxy)"),
        ("no audience", issuer.sign(RSA1, aud=None), "the token has no 'aud' claim"),
        ("no exp", issuer.sign(RSA1, exp=None), "the token has no 'exp' claim"),
        ("no sub", issuer.sign(RSA1, sub=None), "the token has no 'sub' claim (auth.jwt.identity_claim)"),
        ("bad signature", f"{head}.{body}.{other_signature}", "the token's signature does not verify"),
        ("unknown key", issuer.sign(RSAKey("unpublished")), "the token's key (kid) is not one of the issuer's keys"),
        ("alg none", hand_signed({"alg": "none", "kid": "rsa-1"}, issuer.claims(), None), 'unsigned (alg "none")'),
        ("alg None", hand_signed({"alg": "None", "kid": "rsa-1"}, issuer.claims(), None), 'unsigned (alg "none")'),
        ("HS256 with the RSA public key", hand_signed({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}, issuer.claims(),
                                                      rsa_public_pem), "(algorithm confusion)"),
        ("algorithm not allowed", issuer.sign(RSAKey("rsa-1", "RS512")), "RS512 is not one of auth.jwt.algorithms"),
        ("ES256 on an RSA key", issuer.sign(EC1, headers={"kid": "rsa-1"}), "does not match its key (a RSA key)"),
        ("malformed: two parts", f"{head}.{body}", "the token is malformed"),
        ("malformed: not base64", "!!!.???.***", "the token is malformed"),
        ("malformed: garbage", "not-a-jwt", "the token is malformed"),
        ("malformed: signed payload not JSON", signed_not_json, "the token is malformed"),
    ]


def test_each_refusal_says_which(issuer: Issuer) -> None:
    config = keys_config(issuer)
    cases = refusals(issuer)
    messages = {}
    for name, token, expected in cases:
        message = refusal(config, token)
        assert expected in message, (name, message)
        messages[name] = message
    # Distinct checks give distinct messages (the malformed variants share theirs).
    distinct = {m for n, m in messages.items() if not n.startswith(("malformed", "alg N", "issued"))}
    assert len(distinct) == len([n for n in messages if not n.startswith(("malformed", "alg N", "issued"))])


def test_no_token_text_in_the_logs(issuer: Issuer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = keys_config(issuer)
    tokens = [token for _, token, _ in refusals(issuer)]
    for token in tokens:
        with pytest.raises(AuthError):
            verify(config, token)
    for token in tokens:
        for part in token.split("."):
            if len(part) > 8:
                assert part not in caplog.text


# -- keys: rotation, the refetch cap, failures --------------------------------------------------------


def test_rotation_new_kid_accepted_after_one_refetch(issuer: Issuer) -> None:
    clock = ManualClock()

    async def body(verifier: JWTVerifier) -> None:
        assert (await verifier.verify(issuer.sign(RSA1))).identity == "user-1"
        assert issuer.hits("/jwks.json") == 1
        issuer.add_key(RSA2)  # the issuer rotates in a new key
        clock.now += 31       # past the refetch interval since the first fetch
        assert (await verifier.verify(issuer.sign(RSA2, sub="bob"))).identity == "bob"
        assert issuer.hits("/jwks.json") == 2
        assert (await verifier.verify(issuer.sign(RSA2, sub="bob"))).identity == "bob"
        assert (await verifier.verify(issuer.sign(RSA1))).identity == "user-1"
        assert issuer.hits("/jwks.json") == 2  # both cached now
        assert issuer.hits("/.well-known/openid-configuration") == 1  # the jwks_uri is kept

    with_verifier(keys_config(issuer), body, clock)


def test_unknown_kids_refetch_at_most_once_per_interval(issuer: Issuer) -> None:
    clock = ManualClock()

    async def body(verifier: JWTVerifier) -> None:
        await verifier.verify(issuer.sign(RSA1))
        clock.now += 31
        forged = [issuer.sign(RSAKey(f"forged-{i}")) for i in range(3)]
        for token in forged * 5:  # fifteen tokens with made-up kids within the interval
            with pytest.raises(AuthError, match="not one of the issuer's keys"):
                await verifier.verify(token)
            clock.now += 1
        assert issuer.hits("/jwks.json") == 2  # one refetch for the first, none for the other 14
        # Concurrent requests with a new kid share one fetch.
        clock.now += 31
        results = await asyncio.gather(*(verifier.verify(t) for t in forged), return_exceptions=True)
        assert all(isinstance(r, AuthError) for r in results)
        assert issuer.hits("/jwks.json") == 3

    with_verifier(keys_config(issuer, refetch_interval=30), body, clock)


def test_fetch_failure_keeps_cached_keys(issuer: Issuer, caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()

    async def body(verifier: JWTVerifier) -> None:
        await verifier.verify(issuer.sign(RSA1))
        issuer.status = 500
        clock.now += 4000  # past keys_max_age: a refetch is due, and it fails
        assert (await verifier.verify(issuer.sign(RSA1))).identity == "user-1"
        assert issuer.hits("/jwks.json") == 2

    with_verifier(keys_config(issuer), body, clock)
    assert "using the 2 key(s) fetched before" in caplog.text


def test_a_token_that_passed_is_remembered_until_it_expires(issuer: Issuer) -> None:
    import time
    clock = ManualClock()

    async def body(verifier: JWTVerifier) -> None:
        token = issuer.sign(RSA1, exp=int(time.time()) + 2)
        assert (await verifier.verify(token)).identity == "user-1"
        issuer.keys[:] = [RSA2.jwk()]  # the issuer withdraws the token's key...
        clock.now += 4000    # ...and the cache is past keys_max_age: a check would refetch and fail
        assert (await verifier.verify(token)).identity == "user-1"  # remembered: no check, no fetch
        assert issuer.hits("/jwks.json") == 1
        other = issuer.sign(RSA1)  # a token not seen before is checked: its key is gone
        with pytest.raises(AuthError, match="not one of the issuer's keys"):
            await verifier.verify(other)

    with_verifier(keys_config(issuer, leeway=0), body, clock)


@pytest.mark.parametrize(("lifetime", "later"), [(60, 61), (3600, 301)], ids=["past exp", "past 5 min"])
def test_a_remembered_token_is_checked_again_later(issuer: Issuer, lifetime: int, later: int) -> None:
    """Remembered no longer than its exp, nor than 5 minutes: then it is checked again."""
    import time
    clock, wall = ManualClock(), [time.time()]
    token = issuer.sign(RSA1, exp=int(wall[0]) + lifetime)

    async def main() -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            verifier = JWTVerifier(keys_config(issuer, leeway=0), lambda: client, clock=clock,
                                   wall_clock=lambda: wall[0])
            await verifier.verify(token)
            issuer.keys[:] = [RSA2.jwk()]  # the token's key withdrawn...
            clock.now += 4000  # ...and the cached keys past keys_max_age: a new check refuses it
            wall[0] += later - 2
            assert (await verifier.verify(token)).identity == "user-1"  # still remembered
            wall[0] += 2
            with pytest.raises(AuthError, match="not one of the issuer's keys"):
                await verifier.verify(token)

    asyncio.run(main())


def test_no_keys_at_all_is_503_not_401(issuer: Issuer) -> None:
    issuer.status = 500
    clock = ManualClock()

    async def body(verifier: JWTVerifier) -> None:
        for _ in range(3):
            with pytest.raises(InboundError) as caught:
                await verifier.verify(issuer.sign(RSA1))
            assert not isinstance(caught.value, AuthError)
            assert (caught.value.status, caught.value.type) == (503, "auth_unavailable")
        assert issuer.hits("/jwks.json") == 1  # failures are capped too: the issuer is not hammered
        issuer.status = 200
        clock.now += 31
        assert (await verifier.verify(issuer.sign(RSA1))).identity == "user-1"

    with_verifier(keys_config(issuer), body, clock)


def test_discovery_naming_another_issuer_is_refused(issuer: Issuer) -> None:
    config = JWTConfig(issuer=issuer.url.rstrip("/"), audience=AUDIENCE)  # no trailing slash: not the same
    with pytest.raises(InboundError, match="signing keys cannot be fetched"):
        verify(config, issuer.sign(RSA1, iss=issuer.url.rstrip("/")))


# -- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "message"), [
    ({"issuer": "https://i.example/", "algorithms": ["none"]}, "'none' (an unsigned token) is never accepted"),
    ({"issuer": "https://i.example/", "algorithms": ["HS256"]}, "only accepted with a secret"),
    ({"secret": SECRET, "algorithms": ["RS256"]}, "with a secret only HS256/384/512"),
    ({"secret": "short"}, "shorter than 32 bytes"),
    ({"secret": "x" * 40, "algorithms": ["HS512"]}, "shorter than 64 bytes"),
    ({"secret": SECRET, "jwks_url": "https://i.example/jwks"}, "not both"),
    ({}, "give issuer"),
    ({"issuer": "i.example"}, "http:// or https:// URL"),
])
def test_config_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        JWTConfig(audience=AUDIENCE, **fields)


def test_config_defaults() -> None:
    assert JWTConfig(issuer="https://i.example/", audience="a").allowed_algorithms == ["RS256", "ES256"]
    assert JWTConfig(secret=SECRET, audience="a").allowed_algorithms == ["HS256"]
    with pytest.raises(ValueError, match="give the audience"):
        JWTConfig(issuer="https://i.example/", audience=[])
