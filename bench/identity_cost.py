"""What knowing the user costs per request: JWT verification (keys cached) and a quota check
against a local Redis, next to a static bearer token.

    python -m bench.identity_cost [--requests 2000]

Two views, in-process and on one core:

- *the check alone*: one call of each authenticator on a request's scope (a static token of four
  configured; an RS256, an ES256 and an HS256 JWT with the keys cached, each token new to the
  verifier so its signature is checked, and one it has seen, which it remembers), and one quota
  admit plus finish (a run's tokens charged, its stream slot released) against the memory store
  and against a real ``redis-server`` on loopback (two round trips);
- *a whole request*: the standalone app (``create_app``) serving a replayed run (no upstream, no
  pacing) end to end through its ASGI interface, with a static token, with a JWT, and with a
  static token plus quotas in memory and in Redis: the differences are what each adds to a request.
  The cases take turns round by round (12 rounds, each case first in turn), so a change in the
  machine's load falls on all of them.

Prints the median of 5 rounds, in µs per request, twice: the CPU time of this process (what the
check costs the proxy, and what stays true on a machine other programs load) and the wall-clock
time (which adds the waits: Redis's round trips, and any other program's turn on the CPU).  The
Redis server is started on a free port with no persistence and stopped at the end
(``redis-server`` must be installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from agui_proxy.config import JWTConfig, QuotasConfig
from agui_proxy.quotas import QuotaGate
from agui_proxy.store import MemoryQuotaStore, QuotaStore, RedisQuotaStore
from agui_proxy.users import JWTVerifier

from .identity_requests import ROUNDS, WHOLE_ROUNDS, Timing, medians, static_check, timed, whole_requests

ISSUER = "https://issuer.bench/"
AUDIENCE = "agui-proxy"
SECRET = "bench-secret-" + "x" * 40


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", directory], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(7).startswith(b"+PONG"):
                        break
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(5)


def signing_keys(count: int) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A JWK Set with an RSA and an EC key, and ``count`` different tokens signed by each (and HS256)."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = {"keys": [{**RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "r1", "use": "sig"},
                     {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "e1", "use": "sig"}]}
    signers: dict[str, tuple[Any, dict[str, str]]] = {
        "RS256": (rsa_key, {"kid": "r1"}), "ES256": (ec_key, {"kid": "e1"}), "HS256": (SECRET, {})}
    tokens: dict[str, list[str]] = {}
    for name, (key, headers) in signers.items():
        tokens[name] = [jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "jti": str(i),
                                    "exp": int(time.time()) + 86_400, "iat": int(time.time())},
                                   key, algorithm=name, headers=headers) for i in range(count)]
    return keys, tokens


async def per_call(call: Callable[[], Awaitable[Any]], requests: int) -> Timing:
    """Median µs per call over ROUNDS rounds of ``requests`` calls (after one warm-up call)."""
    await call()
    return medians([await timed(call, requests) for _ in range(ROUNDS)])


def each_new(verifier: JWTVerifier, tokens: list[str]) -> Callable[[], Awaitable[Any]]:
    """A call that verifies the next token not seen yet (so its signature is checked)."""
    unseen = iter(tokens)
    return lambda: verifier.verify(next(unseen))


async def checks_alone(requests: int, redis_url: str, static: Callable[[], Awaitable[Any]]) -> dict[str, Timing]:
    keys, tokens = signing_keys(requests * ROUNDS + 2)
    # The keys are served once, in-process; every call after the first uses the cache.
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=keys))
    async with httpx.AsyncClient(transport=transport) as client:
        with_keys = JWTVerifier(JWTConfig(issuer=ISSUER, jwks_url="https://issuer.bench/jwks", audience=AUDIENCE),
                                lambda: client)
        with_secret = JWTVerifier(JWTConfig(secret=SECRET, audience=AUDIENCE, issuer=ISSUER), lambda: client)
        out = {"static bearer token (4 configured)": await per_call(static, requests)}
        for name, verifier in (("RS256", with_keys), ("ES256", with_keys), ("HS256", with_secret)):
            out[f"JWT {name}, signature checked"] = await per_call(each_new(verifier, tokens[name]), requests)
        seen = tokens["RS256"][-1]
        out["JWT seen before (remembered)"] = await per_call(lambda: with_keys.verify(seen), requests)
    quotas = QuotasConfig(per_identity={"requests_per_minute": 10**9, "tokens_per_minute": 10**9,
                                        "tokens_per_day": 10**9, "concurrent_streams": 10**6})
    stores: list[tuple[str, QuotaStore]] = [("memory", MemoryQuotaStore()),
                                       ("Redis on loopback", RedisQuotaStore(redis_url, timeout=1.0))]
    for label, store in stores:
        gate = QuotaGate(quotas, store, prefix="bench:")
        out[f"quota admit + finish, {label}"] = await per_call(lambda g=gate: quota_round(g), requests)
        await store.aclose()
    return out


async def quota_round(gate: QuotaGate) -> None:
    """One request's quota work: admit before the upstream, finish (charge 113 tokens, release) after."""
    ticket = await gate.admit("user-42", {})
    await gate.finish(ticket, tokens=113, estimate_bytes=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    requests = max(50, min(args.requests, 100_000))
    with redis_server() as url:
        alone = asyncio.run(checks_alone(requests, url, static_check()))
        whole = asyncio.run(whole_requests(max(50, requests // 4), url))
    print(f"the check alone (median of {ROUNDS} rounds of {requests}, µs per call)   CPU      wall")
    for label, (cpu, wall) in alone.items():
        print(f"  {label:48s} {cpu:8.1f}  {wall:8.1f}")
    print(f"\na whole request through the app (median of {WHOLE_ROUNDS} rounds of {max(50, requests // 4)}, µs)"
          "   CPU (added)      wall (added)")
    base_cpu, base_wall = whole["static bearer token"]
    for label, (cpu, wall) in whole.items():
        print(f"  {label:42s} {cpu:8.1f} ({cpu - base_cpu:+7.1f})  {wall:8.1f} ({wall - base_wall:+7.1f})")
    print(json.dumps({"alone": alone, "whole": whole}, indent=None))


if __name__ == "__main__":
    main()
