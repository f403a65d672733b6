"""Who sent a request: the :class:`~.identity.Identity` the auth piece finds, put in the request context.

An *authenticator* is an async callable ``authenticate(scope) -> Identity | None``: ``None`` when
the request proves no identity (a 401), or it raises :class:`~agui_proxy.errors.AuthError` (401)
to say what is wrong with the credential it was given.  :class:`ConfigAuth` is the one the config
builds (``auth.bearer_tokens``, ``auth.jwt``); an app's own callable in middleware mode
(``AGUIProxyMiddleware(app, config, authenticate=...)``) plugs into :class:`AuthMiddleware` the
same way.  Every 401 carries ``WWW-Authenticate: Bearer`` (RFC 6750 section 3), with
``error="invalid_token"`` when a token was sent and refused.

The credential itself never goes further: no token is forwarded to an upstream (PROTOCOL.md
section 4), logged, or kept in the identity.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import AuthConfig, NamedToken
from ..errors import AuthError, InboundError
from ..users import JWTVerifier
from .context import request_context
from .identity import Identity
from .json_answers import send_error

Authenticate = Callable[[Scope], Awaitable[Identity | None]]


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


def bearer_token(scope: Scope) -> bytes:
    """The token of the request's ``Authorization: Bearer <token>``; a 401 naming the header when
    there is none."""
    scheme, _, token = _header(scope, b"authorization").partition(b" ")
    token = token.strip()
    if scheme.lower() != b"bearer" or not token:
        raise AuthError("missing bearer token: send Authorization: Bearer <token>", invalid_token=False)
    return token


# Where an identity comes from, the first part of its id: a configured token's name and a JWT's
# subject never meet (an app's own ``authenticate`` names its identities as it likes).
TOKEN_SOURCE = "token:"
JWT_SOURCE = "jwt:"


class BearerTokens:
    """``auth.bearer_tokens``: the request's bearer token must be one of them.

    The identity is ``token:`` and the token's ``name``, or its place in the list (``token:0``,
    ``token:1``...), never the token: its source first, so that no user's JWT subject can be a
    configured token's identity (``jwt:<subject>``), with its runs, its quotas and its log lines.
    """

    def __init__(self, tokens: Sequence[NamedToken]) -> None:
        self._tokens = [(t.token.encode(), Identity(f"{TOKEN_SOURCE}{t.name or i}")) for i, t in enumerate(tokens)]

    def match(self, token: bytes) -> Identity | None:
        # Compare against every token, always, so the time taken says nothing about which matched.
        matched: Identity | None = None
        for known, identity in self._tokens:
            if hmac.compare_digest(token, known) and matched is None:
                matched = identity
        return matched

    async def __call__(self, scope: Scope) -> Identity | None:
        identity = self.match(bearer_token(scope))
        if identity is None:
            raise AuthError("the bearer token is not valid")
        return identity


class ConfigAuth:
    """``auth``: a configured bearer token (servers), else a user's JWT (``auth.jwt``) whose
    ``identity_claim`` is the identity and whose claims go along (plans, logs)."""

    def __init__(self, auth: AuthConfig, http: Callable[[], httpx.AsyncClient]) -> None:
        self.tokens = BearerTokens(auth.bearer_tokens)
        self.jwt = JWTVerifier(auth.jwt, http) if auth.jwt is not None else None

    async def __call__(self, scope: Scope) -> Identity | None:
        token = bearer_token(scope)
        identity = self.tokens.match(token)
        if identity is not None:
            return identity
        if self.jwt is None:
            raise AuthError("the bearer token is not valid")
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            raise AuthError("the token is malformed (not three base64url parts with a JSON header)") from None
        verified = await self.jwt.verify(text)
        return Identity(JWT_SOURCE + verified.identity, verified.claims)


class AuthMiddleware:
    """Answers 401 unless ``authenticate`` finds an identity; else puts it in the request context."""

    def __init__(self, app: ASGIApp, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            identity = await self.authenticate(scope)
            if identity is None:
                raise AuthError("the request carries no valid credentials", invalid_token=False)
        except InboundError as exc:  # an AuthError, or a 503 when the issuer's keys cannot be had
            request_context(scope).error = exc.type
            await send_error(send, exc)
            return
        request_context(scope).identity = identity
        await self.app(scope, receive, send)
