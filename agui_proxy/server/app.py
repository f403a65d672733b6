"""The ASGI shell: routing, inbound auth, body limits, and the streaming response.

:class:`AGUIProxyMiddleware` serves the configured routes and passes every other request (HTTP,
WebSocket, lifespan) to the app it wraps, untouched; with no app to wrap it is the standalone
proxy (:func:`create_app`, what the CLI serves) and answers anything else with 404.  It is pure
ASGI (no ``BaseHTTPMiddleware``, whose overhead is large under streaming load).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import os

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import PLAYGROUND_PATH, Config, load_config
from ..core.inbound import InboundRequest, read_request
from ..core.run import RunBuilder
from ..core.stream import RunStream
from ..errors import InboundError
from ..providers import UpstreamRequest
from .exchange import Exchange
from .http_client import new_client
from .keepalive import KeepAlive
from .lifecycle import drain_logged, drain_on_exit_signals
from .limits import ActiveStream, StreamGate
from .ops import Operations
from .playground import PlaygroundPage
from .reliability import UpstreamRun
from .routing import RoutePlan, Target, provider_for
from .session import ClientWriter, serve_stream

log = logging.getLogger("agui_proxy")


class AGUIProxyMiddleware:
    """Serves the config's routes; everything else goes to ``app`` (or 404 without one).

    ``config`` is a :class:`~agui_proxy.config.Config` (``load_config(path)``) or the path of a
    YAML file.  Route paths are matched below the ``root_path`` (a mount point).  HTTP requests
    to other paths, WebSocket connections and the lifespan go to ``app`` as they are; the
    lifespan also opens the shared upstream client at startup and closes it at shutdown.  Where
    no lifespan reaches it (an app mounted in Starlette), the client opens on first use and
    :meth:`aclose` closes it.
    """

    def __init__(self, app: ASGIApp | None, config: Config | str | os.PathLike[str]) -> None:
        self.app = app
        self.config = config if isinstance(config, Config) else load_config(config)
        self._routes = {route.path: RoutePlan(self.config, route) for route in self.config.routes}
        self._tokens = [t.encode() for t in self.config.auth.bearer_tokens]
        self._secrets = list(self.config.auth.bearer_tokens)
        for upstream in self.config.upstreams.values():
            self._secrets += provider_for(upstream).secrets()
        self._client: httpx.AsyncClient | None = None
        self._shutting_down = False
        self._draining: asyncio.Future[None] | None = None
        # Set by the CLI's server (serve.py): SIGTERM and SIGINT start the drain (lifecycle.py).
        self.drain_on_exit_signals = False
        streams = self.config.streams
        self.gate = StreamGate(streams.max_concurrent, streams.retry_after)
        self.keepalive = KeepAlive(streams.keepalive)
        # Probes, /metrics, request ids, CORS and the access log (server/ops.py).
        self.ops = Operations(self.config, readiness=self._readiness, check_auth=self._check_auth,
                              secrets=self._secrets)
        self._playground = PlaygroundPage(self.config) if self.config.playground else None
        if not self._tokens:
            log.warning("no auth.bearer_tokens configured: the routes %s accept requests without a token",
                        ", ".join(self._routes))

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self._routes.get(route_path(scope))
            if route is not None:
                await self.ops.serve(scope, receive, send, functools.partial(self._handle, route),
                                     route=route.route.path, upstream=route.upstream_name)
                return
            if (endpoint := self.ops.endpoint(scope["path"])) is not None:
                await endpoint(scope, receive, send)
                return
            if self._playground is not None and scope["path"] == PLAYGROUND_PATH:
                await self._playground(scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await self.ops.serve(scope, receive, send, _not_found, methods=None)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Open the shared HTTP client at startup and close it at shutdown, around the app's own."""
        if self.app is None:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._started()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.begin_shutdown()
                    await self.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

        async def wrapped_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._started()
            elif message["type"] == "lifespan.shutdown":
                self.begin_shutdown()
            return message

        async def wrapped_send(message: Message) -> None:
            if message["type"] in ("lifespan.startup.failed", "lifespan.shutdown.complete",
                                   "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        try:
            await self.app(scope, wrapped_receive, wrapped_send)
        except BaseException:
            # An app without lifespan support raises here (the server then carries on without
            # one): the client opened for it must not be left open.
            await self.aclose()
            raise

    def _started(self) -> None:
        self._client = self._client or new_client(self.config)
        if self.drain_on_exit_signals:
            drain_on_exit_signals(self)

    def start_drain(self) -> None:
        """Begin the graceful shutdown (:meth:`drain`) in the background, once."""
        if self._draining is None:
            self._draining = asyncio.ensure_future(drain_logged(self))

    @property
    def http_client(self) -> httpx.AsyncClient | None:
        """The shared upstream client: opened at lifespan startup, closed at shutdown."""
        return self._client

    def begin_shutdown(self) -> None:
        """From now on ``/readyz`` answers 503 (streams already running go on)."""
        self._shutting_down = True

    def _readiness(self) -> dict[str, bool]:
        # The config was loaded and validated before this object existed.
        return {"config": True,
                "http_client": self._client is not None and not self._client.is_closed,
                "accepting": not self._shutting_down}

    @property
    def secrets(self) -> list[str]:
        """Every key and token of the config: never in a response or a log."""
        return list(self._secrets)

    async def drain(self, grace: float | None = None) -> int:
        """Graceful shutdown: refuse new streams (503), let running ones finish for ``grace`` seconds
        (``streams.shutdown_grace``), then end them with ``RUN_ERROR`` code ``shutdown``.  The CLI
        calls it on SIGTERM; an app that embeds the middleware calls it before its server stops."""
        self.begin_shutdown()
        return await self.gate.drain(self.config.streams.shutdown_grace if grace is None else grace)

    async def aclose(self) -> None:
        self.ops.close()
        self.keepalive.close()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # -- one request ---------------------------------------------------------------------------

    async def _handle(self, route: RoutePlan, exchange: Exchange, scope: Scope, receive: Receive,
                      send: Send) -> None:
        if scope["method"] != "POST":
            await _send_error(send, InboundError(405, "method_not_allowed", f"{route.route.path} takes POST"),
                              [(b"allow", b"POST")])
            return
        active: ActiveStream | None = None
        try:
            try:
                self._check_auth(scope)
                active = self.gate.admit()  # before the body: an overloaded process spends nothing on it
                # The body is not kept: a 10 MB prompt is not held for the whole stream.
                request = read_request(await _read_body(scope, receive, self.config.limits.max_body_bytes))
                targets = route.targets(request.conversation.requested_model)
                first_request = targets[0].build_request(request.conversation, scope["headers"])
            except InboundError as exc:
                exchange.error = exc.type
                extra = [(b"www-authenticate", b"Bearer")] if exc.status == 401 else []
                if exc.retry_after is not None:
                    extra.append((b"retry-after", str(exc.retry_after).encode()))
                await _send_error(send, exc, extra)
                return
            writer = ClientWriter(send)
            label = f"request {exchange.request_id} {route.label}"
            upstream_run = self._upstream_run(route, request, writer, targets, first_request, scope["headers"],
                                              exchange, label)
            exchange.stream = upstream_run.stream
            await serve_stream(upstream_run, receive=receive, writer=writer, active=active,
                               keepalive=self.keepalive, label=label)
        finally:
            if active is not None:
                self.gate.release(active)

    def _check_auth(self, scope: Scope) -> None:
        if not self._tokens:
            return
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        scheme, _, token = header.partition(b" ")
        token = token.strip()
        if scheme.lower() != b"bearer" or not token:
            raise InboundError(401, "unauthorized", "missing bearer token: send Authorization: Bearer <token>")
        # Compare against every token, always, so the time taken says nothing about which matched.
        matched = False
        for known in self._tokens:
            matched |= hmac.compare_digest(token, known)
        if not matched:
            raise InboundError(401, "unauthorized", "the bearer token is not valid")

    def _upstream_run(self, route: RoutePlan, request: InboundRequest, writer: ClientWriter, targets: list[Target],
                      first_request: UpstreamRequest, client_headers: list[tuple[bytes, bytes]],
                      exchange: Exchange, label: str) -> UpstreamRun:
        config = route.route
        done = config.done == "always" or (config.done == "auto" and request.kind == "branderux")

        def new_stream(target: Target) -> RunStream:
            # One per try (same ids), read by the translator of the upstream tried.
            run = RunBuilder(request.thread_id, request.run_id, reasoning=config.reasoning,
                             parent_run_id=request.parent_run_id)
            return RunStream(run, target.provider.translator, route.encoder,
                             done_frame=done, max_event_size=self.config.limits.max_event_bytes,
                             secrets=self._secrets, hold_early_failure=True)

        return UpstreamRun(new_stream, targets, first_request, request.conversation, client_headers,
                           writer.write, self._http, secrets=self._secrets, label=label,
                           observer=_Observer(exchange, self.ops, config.path))

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # served without a lifespan: open the client on first use
            self._client = new_client(self.config)
        return self._client


def route_path(scope: Scope) -> str:
    """The request path below the app's mount point (``root_path``), which the routes are relative to.

    A server's ``--root-path`` and a Starlette ``Mount`` both set ``root_path`` and keep it at
    the front of ``path`` (ASGI spec, HTTP scope); a path that does not start with it is used as is.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("/", ""):
        return path[len(root):] or "/"
    return path


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing (413) as soon as it passes ``limit``, never buffering past it."""
    too_large = InboundError(413, "body_too_large", f"the request body is larger than {limit} bytes")
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                if int(value) > limit:
                    raise too_large
            except ValueError:
                raise InboundError(400, "invalid_request", "the Content-Length header is not a number") from None
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InboundError(400, "client_disconnected", "the client left before sending the whole body")
        body += message.get("body", b"")
        if len(body) > limit:
            raise too_large
        if not message.get("more_body", False):
            return bytes(body)


async def _send_error(send: Send, error: InboundError, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps({"error": {"type": error.type, "message": error.message}}).encode()
    await send({
        "type": "http.response.start",
        "status": error.status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                    *(headers or [])],
    })
    await send({"type": "http.response.body", "body": payload})


async def _not_found(exchange: Exchange, scope: Scope, receive: Receive, send: Send) -> None:
    exchange.error = "not_found"
    await _send_error(send, InboundError(404, "not_found", f"no route at {scope['path']}"))


def create_app(config: Config | str | os.PathLike[str]) -> AGUIProxyMiddleware:
    """The standalone proxy as an ASGI app (what ``agui-proxy --config`` serves)."""
    return AGUIProxyMiddleware(None, config)



class _Observer:
    """Tells a request's :class:`Exchange` and the metrics what its upstream run does."""

    __slots__ = ("_exchange", "_ops", "_route")

    def __init__(self, exchange: Exchange, ops: Operations, route: str) -> None:
        self._exchange = exchange
        self._ops = ops
        self._route = route

    def attempt(self, upstream: str, stream: RunStream, retry: bool) -> None:
        self._exchange.upstream = upstream
        self._exchange.stream = stream
        if retry:
            self._ops.metrics.retry(upstream)

    def fallback(self, from_upstream: str, to_upstream: str) -> None:
        self._ops.metrics.fallback(self._route, from_upstream, to_upstream)

    def chunk(self, out: bytes) -> None:
        self._exchange.upstream_chunk(out)
