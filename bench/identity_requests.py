"""Whole requests through the standalone app, in-process, and the timing both parts of
``bench/identity_cost.py`` use."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

from agui_proxy import create_app
from agui_proxy.config import AuthConfig, config_from_dict
from agui_proxy.middleware.auth import BearerTokens

STATIC_TOKENS = [f"static-token-{i}-0123456789abcdef" for i in range(4)]
SECRET = "bench-secret-" + "x" * 40
BODY = b'{"params": {"messages": [{"role": "user", "content": "hi"}]}}'
ROUNDS = 5
WHOLE_ROUNDS = 12  # whole requests vary more: more rounds, each case first in turn


Timing = tuple[float, float]  # µs of CPU, µs of wall clock


async def timed(call: Callable[[], Awaitable[Any]], count: int) -> Timing:
    """µs per call of ``count`` calls in a row: this process's CPU time, and the wall clock's."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await call()
    return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6


def medians(rounds: list[Timing]) -> Timing:
    return statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)


def static_check() -> Callable[[], Awaitable[Any]]:
    """One call of the static-token authenticator (``auth.bearer_tokens``), on a request's scope."""
    tokens = BearerTokens(AuthConfig(bearer_tokens=STATIC_TOKENS).bearer_tokens)
    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {STATIC_TOKENS[3]}".encode())]}
    return lambda: tokens(scope)


def app_config(auth: dict[str, Any], **sections: Any) -> Any:
    return config_from_dict({
        "auth": auth,
        "upstreams": {"demo": {"provider": "replay", "interval": 0, "chunk_size": 65536}},
        "routes": [{"path": "/api/agent", "upstream": "demo"}],
        "logging": {"access_log": False},
        "metrics": {"enabled": False},
        **sections,
    }, env={})


async def one_request(app: Any, token: str) -> None:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/agent", "raw_path": b"/api/agent", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"authorization", f"Bearer {token}".encode())],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    sent = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    await app(scope, receive, send)
    if status != 200:
        raise SystemExit(f"the bench request got {status}")




async def whole_requests(requests: int, redis_url: str) -> dict[str, tuple[float, float]]:
    """µs per request of each case (CPU, wall), the cases taking turns round by round."""

    logging.getLogger("agui_proxy").setLevel(logging.WARNING)
    claims = {"iss": "https://issuer.bench/", "aud": "agui-proxy", "sub": "user-42", "exp": int(time.time()) + 86_400}
    user_jwt = jwt.encode(claims, SECRET, algorithm="HS256")
    huge = {"requests_per_minute": 10**9, "tokens_per_minute": 10**9, "tokens_per_day": 10**9,
            "concurrent_streams": 10**6}
    jwt_auth = {"bearer_tokens": STATIC_TOKENS, "jwt": {"secret": SECRET, "audience": "agui-proxy",
                                                         "issuer": "https://issuer.bench/"}}
    cases = [
        ("static bearer token", app_config({"bearer_tokens": STATIC_TOKENS}), STATIC_TOKENS[3]),
        ("JWT (HS256, remembered after the first)", app_config(jwt_auth), user_jwt),
        ("static token + quotas, memory store", app_config({"bearer_tokens": STATIC_TOKENS},
                                                          quotas={"per_identity": huge}), STATIC_TOKENS[3]),
        ("static token + quotas, Redis on loopback", app_config({"bearer_tokens": STATIC_TOKENS},
                                                               quotas={"per_identity": huge},
                                                               store={"url": redis_url, "timeout": 1.0}),
         STATIC_TOKENS[3]),
    ]
    apps = [(label, create_app(config), token) for label, config, token in cases]
    rounds: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in apps}
    try:
        for _, app, token in apps:
            await one_request(app, token)  # warm: the first JWT check, the first Redis connection
        for round_number in range(WHOLE_ROUNDS):
            # Each round starts with another case, so none is always the first after a pause.
            turn = round_number % len(apps)
            for label, app, token in apps[turn:] + apps[:turn]:
                rounds[label].append(await timed(lambda a=app, t=token: one_request(a, t), requests))
    finally:
        for _, app, _ in apps:
            await app.aclose()
    return {label: medians(values) for label, values in rounds.items()}
