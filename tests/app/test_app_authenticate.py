"""AGUIProxyMiddleware(app, config, authenticate=...): an app's own auth decides who a request is
from, in front of a real FastAPI app, in-process; the identity then drives plans and the log."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from starlette.types import Scope

from agui_proxy import AGUIProxyMiddleware, AuthError, Identity
from agui_proxy.config import config_from_dict

from ..support.agui_check import parse_frames
from ..support.asgi import request

BODY = b'{"params": {"messages": [{"role": "user", "content": "hi"}]}}'
SESSIONS = {"s-ada": Identity("ada", {"plan": "pro"}), "s-bob": Identity("bob", {})}


async def authenticate(scope: Scope) -> Identity | None:
    cookies = dict(value.decode().split("=", 1) for name, value in scope["headers"] if name == b"cookie")
    session = cookies.get("session")
    if session == "s-banned":
        raise AuthError("this account is suspended", invalid_token=False)
    return SESSIONS.get(session or "")


def proxied_app(**sections: Any) -> AGUIProxyMiddleware:
    app = FastAPI()

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    config = config_from_dict({
        "auth": {"bearer_tokens": ["a-server-token-never-used-here"]},  # replaced by authenticate
        "upstreams": {"demo": {"provider": "replay", "interval": 0}},
        "routes": [{"path": "/api/agent", "upstream": "demo"}],
        "logging": {"identity_claims": ["plan"]},
        **sections,
    }, env={})
    return AGUIProxyMiddleware(app, config, authenticate=authenticate)


def post(app: AGUIProxyMiddleware, cookie: str | None) -> Any:
    headers = [("content-type", "application/json")] + ([("cookie", cookie)] if cookie else [])
    return request(app, "POST", "/api/agent", headers=headers, body=BODY)


def test_the_apps_authenticate_decides(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agui_proxy.access")
    app = proxied_app()

    async def main() -> None:
        ok = await post(app, "session=s-ada")
        assert ok.status == 200
        events, _ = parse_frames(ok.body)
        assert events[-1]["type"] == "RUN_FINISHED"
        banned = await post(app, "session=s-banned")
        assert banned.status == 401 and banned.headers["www-authenticate"] == "Bearer"
        assert banned.json() == {"error": {"type": "unauthorized", "message": "this account is suspended"}}
        nobody = await post(app, None)
        assert nobody.status == 401 and nobody.json()["error"]["type"] == "unauthorized"
        health = await request(app, "GET", "/api/health")  # the app's own routes are the app's
        assert (health.status, health.json()) == (200, {"status": "ok"})
        await app.aclose()

    anyio.run(main)
    lines = [r.getMessage() for r in caplog.records if r.name == "agui_proxy.access"]
    assert "user=ada" in lines[0] and "claim.plan=pro" in lines[0]


def test_the_identity_it_returns_picks_the_plan() -> None:
    app = proxied_app(quotas={"per_identity": {"requests_per_minute": 1},
                              "plans": {"claim": "plan", "limits": {"pro": {"requests_per_minute": 3}}}})

    async def main() -> tuple[list[int], list[int]]:
        ada = [(await post(app, "session=s-ada")).status for _ in range(4)]
        bob = [(await post(app, "session=s-bob")).status for _ in range(2)]
        await app.aclose()
        return ada, bob

    ada, bob = anyio.run(main)
    assert ada == [200, 200, 200, 429]
    assert bob == [200, 429]
