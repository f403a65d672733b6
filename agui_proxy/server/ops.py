"""The operator's side of the proxy: probes, ``/metrics``, request ids, CORS, the access log.

:class:`Operations` is built once per app from the config.  The app hands it every request to
one of its routes (:meth:`Operations.serve`), which gives the request its id, answers CORS
preflights, adds the ``X-Request-ID`` and CORS headers to the response, and when the request
ends records its metrics and writes its access line.  :meth:`Operations.endpoint` gives the
handler of a probe or of ``/metrics``, if the path is one of them.

The probes are cheap and unauthenticated (an orchestrator calls them every few seconds):

- ``GET /healthz``: 200 while the process serves requests at all (liveness);
- ``GET /readyz``: 200 when the config is loaded, the upstream HTTP client is open and the
  proxy is not shutting down; else 503 and which check failed (readiness: take it out of the
  load balancer, do not restart it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Config
from ..errors import InboundError
from .access_log import DEBUG_CONTENT_CAP, AccessLog
from .cors import CORSPolicy, is_preflight
from .exchange import INTERNAL, REQUEST_ID_HEADER, Exchange
from .metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:  # tracing is imported only when on
    from ..tracing.setup import Tracing

Handler = Callable[[Exchange, Scope, Receive, Send], Awaitable[None]]
ReadinessChecks = Callable[[], Mapping[str, bool]]
_GET = ("GET", "HEAD")
_NO_STORE = (b"cache-control", b"no-store")


async def send_json(send: Send, status: int, payload: object, headers: Sequence[tuple[bytes, bytes]] = (),
                    *, head: bool = False) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": b"" if head else body})


def _error(type: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"type": type, "message": message}}


class Operations:
    """Probes, metrics, CORS, request ids and the access log of one app.

    ``readiness`` returns the readiness checks by name (all true: ready); ``check_auth`` raises
    :class:`~agui_proxy.errors.InboundError` (401) when a request has no valid bearer token.
    """

    def __init__(self, config: Config, *, readiness: ReadinessChecks, check_auth: Callable[[Scope], None],
                 secrets: Sequence[str] = (), tracing: Tracing | None = None) -> None:
        self.metrics = Metrics()
        self.tracing = tracing
        self.access_log = AccessLog(config.logging, secrets)
        self.cors = CORSPolicy(config.cors)
        self._readiness = readiness
        self._check_auth = check_auth
        self._metrics_need_token = config.metrics.require_token
        self._endpoints: dict[str, ASGIApp] = {}
        if config.probes.enabled:
            self._endpoints[config.probes.liveness_path] = self._healthz
            self._endpoints[config.probes.readiness_path] = self._readyz
        if config.metrics.enabled:
            self._endpoints[config.metrics.path] = self._metrics

    def close(self) -> None:
        self.metrics.close()
        if self.tracing is not None:
            self.tracing.close()

    # -- a request to one of the app's routes ------------------------------------------------

    async def serve(self, scope: Scope, receive: Receive, send: Send, handler: Handler, *,
                    route: str = "-", upstream: str = "-", methods: tuple[str, ...] | None = ("POST",),
                    record: bool = True) -> None:
        """Serve one request with ``handler``; ``methods`` are what it takes (``None``: no CORS).

        ``record`` false: no metrics and no access line (the probes and ``/metrics``, which an
        orchestrator and a scraper call every few seconds).
        """
        exchange = Exchange.begin(scope, route, upstream)
        if record and self.tracing is not None:
            exchange.span = self.tracing.request(scope, exchange)
        preflight = methods is not None and is_preflight(scope)
        extra = [(REQUEST_ID_HEADER, exchange.request_id.encode())]
        if methods is not None and not preflight:
            extra += self.cors.response_headers(scope)
        capture = record and self.access_log.debug_content
        metrics = self.metrics
        streaming = False

        async def send_observed(message: Message) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
                if record and exchange.stream is not None:  # the run's stream begins
                    streaming = True
                    metrics.stream_opened()
            elif capture and message["type"] == "http.response.body":
                _keep(exchange, "response_body", message.get("body", b""))
            await send(message)

        async def receive_observed() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                _keep(exchange, "request_body", message.get("body", b""))
            return message

        try:
            if preflight:
                assert methods is not None
                exchange.preflight = True
                answer = self.cors.preflight(scope, methods)
                if answer.error is None:
                    await send_observed({"type": "http.response.start", "status": answer.status,
                                         "headers": answer.headers})
                    await send_observed({"type": "http.response.body", "body": b""})
                else:
                    exchange.error = "cors_refused"
                    await send_json(send_observed, answer.status, _error("cors_refused", answer.error), answer.headers)
            else:
                await handler(exchange, scope, receive_observed if capture else receive, send_observed)
        except anyio.get_cancelled_exc_class():
            exchange.error = exchange.error or "cancelled"  # the server is stopping this request
            raise
        except Exception:
            exchange.error = INTERNAL  # a bug: uvicorn answers 500 (or drops the connection) and logs it
            raise
        finally:
            exchange.end()
            if exchange.span is not None:
                exchange.span.end(exchange)
            if streaming:
                metrics.stream_closed()
            if record:
                metrics.observe(exchange)
                self.access_log.write(exchange)

    # -- probes and /metrics -----------------------------------------------------------------

    def endpoint(self, path: str) -> ASGIApp | None:
        """The handler of a probe or of ``/metrics`` at ``path``, or ``None``."""
        return self._endpoints.get(path)

    async def _healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.serve(scope, receive, send, self._only_get(self._answer_healthz), methods=_GET, record=False)

    async def _readyz(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.serve(scope, receive, send, self._only_get(self._answer_readyz), methods=_GET, record=False)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.serve(scope, receive, send, self._only_get(self._answer_metrics), methods=_GET, record=False)

    @staticmethod
    def _only_get(answer: Handler) -> Handler:
        async def handler(exchange: Exchange, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["method"] not in _GET:
                await send_json(send, 405, _error("method_not_allowed", f"{scope['path']} takes GET"),
                                [(b"allow", b"GET, HEAD")])
                return
            await answer(exchange, scope, receive, send)
        return handler

    async def _answer_healthz(self, exchange: Exchange, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"status": "ok"}, [_NO_STORE], head=scope["method"] == "HEAD")

    async def _answer_readyz(self, exchange: Exchange, scope: Scope, receive: Receive, send: Send) -> None:
        checks = dict(self._readiness())
        if all(checks.values()):
            status, state = 200, "ready"
        else:
            status, state = 503, "shutting_down" if not checks.get("accepting", True) else "not_ready"
        await send_json(send, status, {"status": state, "checks": checks}, [_NO_STORE],
                        head=scope["method"] == "HEAD")

    async def _answer_metrics(self, exchange: Exchange, scope: Scope, receive: Receive, send: Send) -> None:
        if self._metrics_need_token:
            try:
                self._check_auth(scope)
            except InboundError as exc:
                await send_json(send, exc.status, _error(exc.type, exc.message), [(b"www-authenticate", b"Bearer")])
                return
        if self.metrics.multiprocess_dir is None:
            body = self.metrics.render()
        else:  # reads every worker's files: off the event loop, so streams never wait on it
            body = await anyio.to_thread.run_sync(self.metrics.render)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE.encode()),
                                (b"content-length", str(len(body)).encode()), _NO_STORE]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _keep(exchange: Exchange, name: str, data: bytes) -> None:
    """Keep up to :data:`DEBUG_CONTENT_CAP` bytes of a body for the debug access line."""
    kept: bytearray | None = getattr(exchange, name)
    if kept is None:
        kept = bytearray()
        setattr(exchange, name, kept)
    room = DEBUG_CONTENT_CAP - len(kept)
    if room > 0 and data:
        kept += data[:room]
