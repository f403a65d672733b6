"""``auth.jwt``: verify a user's ``Authorization: Bearer <JWT>`` and say who the user is.

Every refusal is an :class:`~agui_proxy.errors.AuthError` (401, ``WWW-Authenticate: Bearer
error="invalid_token"``) whose message says which check failed: malformed, unsigned (``alg:
none``), an algorithm not allowed, an HS token where the issuer's public keys verify (the
algorithm-confusion attack, RFC 8725 section 2.1), an unknown key, a bad signature, expired, not
yet valid, another issuer, another audience, a missing claim.  No message quotes the token or any
part of it (its ``kid`` and claims are the sender's words, not to be echoed).

The checks before PyJWT is called (the header's ``alg`` against the allowlist, the key's type
against the algorithm) are what keep a token from choosing how it is verified; PyJWT then checks
the signature and the registered claims (``exp`` required, ``nbf``, ``iat``, ``iss``, ``aud``) with
``auth.jwt.leeway`` seconds of clock skew.

A browser sends the same token with every request until it expires, so a token that passed is
remembered (up to :data:`REMEMBERED` of them, for at most :data:`REMEMBER_SECONDS`, and never past
its ``exp``): the next request with it costs a dictionary lookup instead of a signature check.
The limit on how long bounds how long a key the issuer withdrew keeps being trusted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWK
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidKeyError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
)

from ..config import JWTConfig
from ..config.auth import HMAC_ALGORITHMS
from ..errors import AuthError, InboundError
from .jwks import KeyMismatch, KeySet, KeysUnavailable, log

REMEMBERED = 10_000
REMEMBER_SECONDS = 300.0

_CLAIM_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (ExpiredSignatureError, "the token has expired (exp is past)"),
    (ImmatureSignatureError, "the token is not valid yet (nbf or iat is in the future)"),
    (InvalidSignatureError, "the token's signature does not verify"),
    (InvalidIssuedAtError, "the token's iat claim is not a number"),
    (InvalidKeyError, "the issuer's key is too weak to accept a signature from it"),
    (InvalidAlgorithmError, "the token's algorithm does not match its key"),
    (DecodeError, "the token is malformed (its parts or claims do not decode)"),
)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that passed every check: who it is from (``auth.jwt.identity_claim``), and its claims."""

    identity: str
    claims: Mapping[str, Any]


class JWTVerifier:
    def __init__(self, config: JWTConfig, http: Callable[[], httpx.AsyncClient], *,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.algorithms = config.allowed_algorithms
        self.keys = None if config.secret is not None else KeySet(config, http, clock=clock)
        self._audience = config.audience
        self._wall_clock = wall_clock
        self._remembered: dict[str, tuple[VerifiedToken, float]] = {}  # token -> (result, until, wall clock)

    async def verify(self, token: str) -> VerifiedToken:
        """The identity the token proves; raises :class:`AuthError` saying why not."""
        remembered = self._remembered.get(token)
        if remembered is not None:
            if self._wall_clock() < remembered[1]:
                return remembered[0]
            del self._remembered[token]  # expired since: checked again, and refused with the reason
        verified = await self._verify(token)
        self._remember(token, verified)
        return verified

    def _remember(self, token: str, verified: VerifiedToken) -> None:
        exp = verified.claims.get("exp")
        if not isinstance(exp, (int, float)):
            return
        if len(self._remembered) >= REMEMBERED:
            self._remembered.pop(next(iter(self._remembered)))  # the oldest
        until = min(float(exp) + self.config.leeway, self._wall_clock() + REMEMBER_SECONDS)
        self._remembered[token] = (verified, until)

    async def _verify(self, token: str) -> VerifiedToken:
        algorithm, kid = self._header(token)
        key: str | PyJWK
        if self.keys is None:
            assert self.config.secret is not None
            key = self.config.secret
        else:
            key = await self._public_key(kid, algorithm)
        claims = self._decode(token, key, algorithm)
        identity = claims.get(self.config.identity_claim)
        if isinstance(identity, (int, float)) and not isinstance(identity, bool):
            identity = str(identity)
        if not isinstance(identity, str) or not identity:
            raise AuthError(f"the token has no {self.config.identity_claim!r} claim (auth.jwt.identity_claim) "
                            "to say who the user is")
        return VerifiedToken(identity, claims)

    def _header(self, token: str) -> tuple[str, str | None]:
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError:
            raise AuthError("the token is malformed (not three base64url parts with a JSON header)") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str):
            raise AuthError("the token is malformed (its header names no algorithm)")
        if algorithm.lower() == "none":
            raise AuthError('the token is unsigned (alg "none"), which is never accepted')
        if algorithm in HMAC_ALGORITHMS and self.keys is not None:
            raise AuthError(f"the token is signed with {algorithm} (a shared secret) but this proxy verifies "
                            "tokens with the issuer's public keys: refused (algorithm confusion)")
        if algorithm not in self.algorithms:
            raise AuthError(f"the token's algorithm {algorithm} is not one of auth.jwt.algorithms "
                            f"({', '.join(self.algorithms)})")
        return algorithm, kid if isinstance(kid, str) else None

    async def _public_key(self, kid: str | None, algorithm: str) -> PyJWK:
        assert self.keys is not None
        try:
            key = await self.keys.key(kid, algorithm)
        except KeyMismatch as exc:
            raise AuthError(str(exc)) from None
        except KeysUnavailable as exc:
            log.error("auth.jwt: no signing keys: %s", exc)
            raise InboundError(503, "auth_unavailable", "the identity provider's signing keys cannot be "
                               "fetched, so no token can be verified: try again shortly", retry_after=5) from None
        if key is None:
            if kid is None:
                raise AuthError("the token names no key (kid) and the issuer has several: cannot tell which")
            raise AuthError("the token's key (kid) is not one of the issuer's keys")
        return key

    def _decode(self, token: str, key: str | PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(token, key, algorithms=[algorithm], audience=self._audience,
                              issuer=self.config.issuer, leeway=self.config.leeway,
                              options={"require": ["exp"], "enforce_minimum_key_length": True})
        except MissingRequiredClaimError as exc:
            raise AuthError(f"the token has no {exc.claim!r} claim") from None
        except InvalidIssuerError:
            raise AuthError(f"the token is from another issuer (iss is not {self.config.issuer})") from None
        except InvalidAudienceError:
            wanted = self._audience if isinstance(self._audience, str) else " or ".join(self._audience)
            raise AuthError(f"the token is not for this proxy (aud does not hold {wanted})") from None
        except InvalidTokenError as exc:
            for kind, message in _CLAIM_ERRORS:
                if isinstance(exc, kind):
                    raise AuthError(message) from None
            raise AuthError("the token is not valid") from None
