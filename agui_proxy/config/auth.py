"""The ``auth:`` section: who may call the routes, by bearer token (server-to-server) or JWT (users).

How a request's sender is found is docs/users-and-quotas.md; what an upstream
is told about that sender is ``identity.py``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from .secret_length import check_token_length
from .strict import Strict

# RFC 7518 section 3.1 names, the ones PyJWT verifies with ``cryptography``.  "none" is never one.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                   "ES256", "ES384", "ES512", "EdDSA"})
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
_HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_URL = re.compile(r"^https?://[^/\s]+")

class NamedToken(Strict):
    """One of ``auth.bearer_tokens``: a plain string, or ``{token, name}``; the name is its identity."""

    token: str = Field(repr=False)
    name: str | None = None

    @field_validator("token")
    @classmethod
    def _not_empty(cls, token: str) -> str:
        if not token.strip():
            raise ValueError("the token is empty (is its environment variable set to an empty string?)")
        return token


class JWTConfig(Strict):
    """``auth.jwt``: users' own tokens, verified with the issuer's keys or a shared ``secret``."""

    issuer: str | None = None  # iss must equal it; with no jwks_url, its discovery document names the keys
    jwks_url: str | None = None
    audience: str | list[str]  # aud must contain it (one of them, for a list)
    algorithms: list[str] = Field(default_factory=list)  # empty: RS256 + ES256, or HS256 with a secret
    secret: str | None = Field(None, repr=False)  # HS256/384/512 instead of keys (Supabase-style)
    identity_claim: str = "sub"
    leeway: float = Field(30.0, ge=0, le=600)  # seconds of clock skew allowed for exp, nbf and iat
    # An unknown kid fetches the keys again, but at most once this often: a token with a made-up
    # kid cannot make the proxy hammer the issuer.
    refetch_interval: float = Field(30.0, ge=1)
    keys_max_age: float = Field(3600.0, ge=1)  # cached keys older than this are fetched again
    fetch_timeout: float = Field(5.0, gt=0)

    @field_validator("issuer", "jwks_url")
    @classmethod
    def _urls(cls, url: str | None) -> str | None:
        if url is not None and not _URL.match(url):
            raise ValueError(f"must be an http:// or https:// URL, not {url!r}")
        return url

    @field_validator("audience")
    @classmethod
    def _audience(cls, audience: str | list[str]) -> str | list[str]:
        if not audience or (isinstance(audience, list) and not all(a.strip() for a in audience)):
            raise ValueError("give the audience the tokens are issued for (aud)")
        return audience

    @model_validator(mode="after")
    def _keys_and_algorithms(self) -> JWTConfig:
        for name in self.algorithms:
            if name.lower() == "none":
                raise ValueError("algorithms: 'none' (an unsigned token) is never accepted")
            if name not in ASYMMETRIC_ALGORITHMS | HMAC_ALGORITHMS:
                known = ", ".join(sorted(ASYMMETRIC_ALGORITHMS | HMAC_ALGORITHMS))
                raise ValueError(f"algorithms: unknown algorithm {name!r} (one of: {known})")
        if self.secret is not None:
            if self.jwks_url is not None:
                raise ValueError("give secret (HS* tokens) or jwks_url (signing keys), not both")
            if not self.secret.strip():
                raise ValueError("secret is empty (is its environment variable set?)")
            if wrong := [a for a in self.algorithms if a not in HMAC_ALGORITHMS]:
                raise ValueError(f"algorithms: {wrong[0]} needs the issuer's keys; with a secret only HS256/384/512")
            # RFC 7518 section 3.2: a key at least as long as the hash; a shorter one can be guessed.
            shortest = max(_HMAC_KEY_BYTES[a] for a in self.allowed_algorithms)
            if len(self.secret.encode()) < shortest:
                raise ValueError(f"secret is shorter than {shortest} bytes, too short for "
                                 f"{', '.join(self.allowed_algorithms)} (RFC 7518 section 3.2)")
        else:
            if self.issuer is None and self.jwks_url is None:
                raise ValueError("give issuer (its /.well-known/openid-configuration names the keys), "
                                 "jwks_url, or secret")
            if wrong := [a for a in self.algorithms if a in HMAC_ALGORITHMS]:
                raise ValueError(f"algorithms: {wrong[0]} is only accepted with a secret (an HS token checked "
                                 "against a public key is the algorithm-confusion attack)")
        return self

    @property
    def allowed_algorithms(self) -> list[str]:
        if self.algorithms:
            return list(self.algorithms)
        return ["HS256"] if self.secret is not None else ["RS256", "ES256"]


class AuthConfig(Strict):
    bearer_tokens: list[NamedToken] = Field(default_factory=list)  # server-to-server callers
    jwt: JWTConfig | None = None  # users' own tokens (browser frontends)

    @field_validator("bearer_tokens", mode="before")
    @classmethod
    def _plain_strings(cls, tokens: Any) -> Any:
        # A plain string is a token with no name: its identity is its place in the list.
        if isinstance(tokens, list):
            return [{"token": t} if isinstance(t, str) else t for t in tokens]
        return tokens

    @field_validator("bearer_tokens")
    @classmethod
    def _long_and_uniquely_named(cls, tokens: list[NamedToken]) -> list[NamedToken]:
        for i, named in enumerate(tokens):
            check_token_length(named.token, i)
        names = [t.name for t in tokens if t.name is not None]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two tokens are named {name!r}: a name is an identity, give each its own")
        return tokens

    @property
    def tokens(self) -> list[str]:
        """The bearer tokens themselves (secrets: never logged)."""
        return [t.token for t in self.bearer_tokens]

    @property
    def enabled(self) -> bool:
        return bool(self.bearer_tokens) or self.jwt is not None
