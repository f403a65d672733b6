"""A byte passthrough on agui-proxy's old stack (Starlette + httpx + uvicorn), once called the floor.

It relays the upstream's response bytes unchanged (``aiter_raw``: no decoding, no parsing), the
least any proxy on this stack can do per streamed token.  The client posts a Chat Completions
body; the upstream is ``BENCH_UPSTREAM`` (``http://127.0.0.1:<port>``).  Its httpx client is
configured as agui-proxy's (``agui_proxy/upstream/call.py``: no connection cap, 100 kept alive).

    uvicorn bench.servers.starlette_passthrough:app --host 127.0.0.1 --port 8001
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9")
client = httpx.AsyncClient(base_url=UPSTREAM, timeout=httpx.Timeout(300.0, connect=10.0), trust_env=False,
                           limits=httpx.Limits(max_connections=None, max_keepalive_connections=100))


async def relay(request: Request) -> StreamingResponse:
    upstream_request = client.build_request(
        "POST", "/v1/chat/completions", content=await request.body(),
        headers={"content-type": "application/json", "accept": "text/event-stream"})
    response = await client.send(upstream_request, stream=True)
    return StreamingResponse(response.aiter_raw(), status_code=response.status_code,
                             media_type=response.headers.get("content-type"),
                             background=BackgroundTask(response.aclose))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await client.aclose()


app = Starlette(routes=[Route("/v1/chat/completions", relay, methods=["POST"])], lifespan=lifespan)
