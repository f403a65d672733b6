"""The auth piece: the identity it puts in the request context, and the 401s it answers."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from starlette.types import Receive, Scope, Send

from agui_proxy.config import AuthConfig
from agui_proxy.errors import AuthError
from agui_proxy.middleware.auth import AuthMiddleware, BearerTokens
from agui_proxy.middleware.context import RequestContextMiddleware, request_context
from agui_proxy.middleware.identity import Identity

from ..support.asgi import request

TOKENS = ["first-token-0123456789", "second-token-0123456789"]
NAMED = "named-token-0123456789"


def scope_with(authorization: str | None) -> dict[str, Any]:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return {"type": "http", "headers": headers}


def test_bearer_tokens_name_the_token_by_its_place_never_by_its_value() -> None:
    authenticate = BearerTokens(AuthConfig(bearer_tokens=[*TOKENS, {"token": NAMED, "name": "billing"}]).bearer_tokens)

    async def main() -> None:
        assert await authenticate(scope_with(f"Bearer {TOKENS[1]}")) == Identity("token:1")
        assert await authenticate(scope_with(f"bearer  {TOKENS[0]} ")) == Identity("token:0")
        assert await authenticate(scope_with(f"Bearer {NAMED}")) == Identity("token:billing")
        with pytest.raises(AuthError, match="the bearer token is not valid") as invalid:
            await authenticate(scope_with("Bearer not-a-configured-token"))
        assert invalid.value.headers == ((b"www-authenticate", b'Bearer error="invalid_token"'),)
        for header in (None, "Basic dXNlcjpwYXNz", "Bearer "):
            with pytest.raises(AuthError, match="missing bearer token") as missing:
                await authenticate(scope_with(header))
            assert missing.value.headers == ((b"www-authenticate", b"Bearer"),)

    anyio.run(main)


def test_the_identity_reaches_the_handler_through_the_context_and_a_refusal_is_a_401() -> None:
    seen: list[Identity | None] = []

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(request_context(scope).identity)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def by_header(scope: Scope) -> Identity | None:  # an app's own authenticate(scope) callable
        for name, value in scope["headers"]:
            if name == b"x-user":
                return Identity(value.decode(), {"role": "tester"})
        return None

    app = RequestContextMiddleware(AuthMiddleware(handler, by_header))

    async def main() -> None:
        allowed = await request(app, "POST", "/a", headers=[("x-user", "ada"), ("x-request-id", "rid-1")])
        assert (allowed.status, allowed.headers["x-request-id"]) == (204, "rid-1")
        refused = await request(app, "POST", "/a")
        assert (refused.status, refused.headers["www-authenticate"]) == (401, "Bearer")
        assert refused.json()["error"]["type"] == "unauthorized"
        assert "x-request-id" in refused.headers

    anyio.run(main)
    assert seen == [Identity("ada", {"role": "tester"})]
