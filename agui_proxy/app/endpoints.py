"""The operator's endpoints: the probes, ``/metrics``, and the standalone app's 404.

The probes are cheap and unauthenticated (an orchestrator calls them every few seconds):

- ``GET /healthz``: 200 while the process serves requests at all (liveness);
- ``GET /readyz``: 200 when the config is loaded, the upstream HTTP client is open and the
  proxy is not shutting down (the draining state of ``shutdown.py``); else 503 and which check
  failed (readiness: take it out of the load balancer, do not restart it).

Each is plain ASGI; the chain around it (``stack.py``) gives it its request id, CORS and the
methods it takes.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from starlette.types import Receive, Scope, Send

from ..errors import InboundError
from ..middleware.context import request_context
from ..middleware.json_answers import send_error, send_json
from ..middleware.metrics import CONTENT_TYPE, Metrics
from .lifespan import SharedClient
from .shutdown import Shutdown

NO_STORE = (b"cache-control", b"no-store")


class Healthz:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"status": "ok"}, [NO_STORE], head=scope["method"] == "HEAD")


class Readyz:
    def __init__(self, client: SharedClient, shutdown: Shutdown) -> None:
        self.client = client
        self.shutdown = shutdown

    def checks(self) -> dict[str, bool]:
        # The config was loaded and validated before the app existed.
        return {"config": True, "http_client": self.client.is_open, "accepting": not self.shutdown.draining}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        checks = self.checks()
        if all(checks.values()):
            status, state = 200, "ready"
        else:
            status, state = 503, "shutting_down" if not checks["accepting"] else "not_ready"
        await send_json(send, status, {"status": state, "checks": checks}, [NO_STORE], head=scope["method"] == "HEAD")


class MetricsEndpoint:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.metrics.multiprocess_dir is None:
            body = self.metrics.render()
        else:  # reads every worker's files: off the event loop, so streams never wait on it
            body = await anyio.to_thread.run_sync(self.metrics.render)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE.encode()),
                                (b"content-length", str(len(body)).encode()), NO_STORE]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


class NotFound:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_context(scope).error = "not_found"
        await send_error(send, InboundError(404, "not_found", f"no route at {scope['path']}"))
