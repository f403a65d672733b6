"""What the operations layer (request id, CORS, metrics, access log) costs per request and per chunk.

    python bench/ops_overhead.py [--requests 2000] [--chunks 200]

A stand-in route handler sends a 200 and ``--chunks`` body messages (a streamed answer), with and
without the shell's request context, metrics + access log and CORS pieces around it
(as ``agui_proxy/app/stack.py`` composes them for a route), in-process (no sockets: only the layer's own CPU).
The access log goes to a real handler writing to /dev/null, as a production line would be
formatted and written.  Prints medians of 5 rounds.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from typing import Any

import anyio

from agui_proxy.config import config_from_dict
from agui_proxy.middleware.access_log import ACCESS_LOGGER, AccessLog
from agui_proxy.middleware.accounting import RequestAccounting
from agui_proxy.middleware.context import RequestContextMiddleware
from agui_proxy.middleware.cors import CORSMiddleware, CORSPolicy
from agui_proxy.middleware.methods import POST
from agui_proxy.middleware.metrics import Metrics

CHUNK = b'data: {"type":"TEXT_MESSAGE_CONTENT","messageId":"msg_1","delta":"hello","timestamp":1}\n\n'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--chunks", type=int, default=200)
    args = parser.parse_args()
    requests, chunks = min(args.requests, 50_000), min(args.chunks, 10_000)

    sink = open(os.devnull, "w")  # lives as long as the process
    handler = logging.StreamHandler(sink)
    access = logging.getLogger(ACCESS_LOGGER)
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False

    config = config_from_dict({"upstreams": {"demo": {"provider": "replay"}},
                               "routes": [{"path": "/api/agent", "upstream": "demo"}],
                               "cors": {"allow_origins": ["https://app.example.com"]}}, env={})
    metrics = Metrics()
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/api/agent", "headers": [
        (b"origin", b"https://app.example.com"), (b"x-request-id", b"bench-request-1"),
        (b"content-type", b"application/json")]}

    async def send(message: Any) -> None:
        pass

    async def receive() -> Any:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def stream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for _ in range(chunks):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    wrapped = RequestContextMiddleware(
        RequestAccounting(CORSMiddleware(stream, CORSPolicy(config.cors), POST), metrics, AccessLog(config.logging)),
        route="/api/agent", upstream="demo")

    async def bare() -> float:
        start = time.perf_counter()
        for _ in range(requests):
            await stream(scope, receive, send)
        return time.perf_counter() - start

    async def observed() -> float:
        start = time.perf_counter()
        for _ in range(requests):
            await wrapped(scope, receive, send)
        return time.perf_counter() - start

    async def no_chunks(wrapped: bool) -> float:
        nonlocal chunks
        saved, chunks = chunks, 0
        try:
            return await (observed() if wrapped else bare())
        finally:
            chunks = saved

    async def rounds() -> dict[str, float]:
        results: dict[str, list[float]] = {"bare": [], "observed": [], "bare0": [], "observed0": []}
        for _ in range(5):
            results["bare"].append(await bare())
            results["observed"].append(await observed())
            results["bare0"].append(await no_chunks(False))
            results["observed0"].append(await no_chunks(True))
        return {k: statistics.median(v) for k, v in results.items()}

    r = anyio.run(rounds)
    per_request = (r["observed0"] - r["bare0"]) / requests
    per_chunk = ((r["observed"] - r["bare"]) - (r["observed0"] - r["bare0"])) / (requests * chunks)
    print(f"{requests} requests x {chunks} chunks, medians of 5 rounds")
    print(f"per request (id, CORS, metrics, access line): {per_request * 1e6:.1f} us")
    print(f"per chunk sent through the layer: {per_chunk * 1e9:.0f} ns")

    start = time.perf_counter()
    for _ in range(200):
        body = metrics.render()
    print(f"/metrics render ({len(body)} bytes, single process): {(time.perf_counter() - start) / 200 * 1e6:.0f} us")


if __name__ == "__main__":
    main()
