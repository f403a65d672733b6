"""Who sent a request: the :class:`~.identity.Identity` the auth piece finds, put in the request context.

An *authenticator* is a callable ``authenticate(scope) -> Identity | None``: ``None`` when the
request proves no identity (a 401), or it raises :class:`~agui_proxy.errors.InboundError` (401)
to say what is wrong with the credential it was given.  :class:`BearerTokens` is the one the
config builds from ``auth.bearer_tokens``; any other (a JWT verifier, an app's own callable in
middleware mode) plugs into :class:`AuthMiddleware` the same way.

The credential itself never goes further: no token is forwarded to an upstream (PROTOCOL.md
section 4), logged, or kept in the identity.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InboundError
from .context import request_context
from .identity import Identity
from .responses import send_error

CHALLENGE = (b"www-authenticate", b"Bearer")


Authenticate = Callable[[Scope], Identity | None]


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
        raise InboundError(401, "unauthorized", "missing bearer token: send Authorization: Bearer <token>")
    return token


class BearerTokens:
    """``auth.bearer_tokens``: the request's bearer token must be one of them.

    The identity is the token's place in the list (``token-0``, ``token-1``...), never the token.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        self._tokens = [t.encode() for t in tokens]

    def __call__(self, scope: Scope) -> Identity | None:
        token = bearer_token(scope)
        # Compare against every token, always, so the time taken says nothing about which matched.
        matched = -1
        for index, known in enumerate(self._tokens):
            if hmac.compare_digest(token, known) and matched < 0:
                matched = index
        if matched < 0:
            raise InboundError(401, "unauthorized", "the bearer token is not valid")
        return Identity(f"token-{matched}")


class AuthMiddleware:
    """Answers 401 unless ``authenticate`` finds an identity; else puts it in the request context."""

    def __init__(self, app: ASGIApp, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            identity = self.authenticate(scope)
            if identity is None:
                raise InboundError(401, "unauthorized", "the request carries no valid credentials")
        except InboundError as exc:
            request_context(scope).error = exc.type
            await send_error(send, exc, [CHALLENGE])
            return
        request_context(scope).identity = identity
        await self.app(scope, receive, send)
