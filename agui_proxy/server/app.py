"""The ASGI shell: routing, inbound auth, body limits, and the streaming response.

:class:`AGUIProxyMiddleware` serves the configured routes and passes every other request (HTTP,
WebSocket, lifespan) to the app it wraps, untouched; with no app to wrap it is the standalone
proxy (:func:`create_app`, what the CLI serves) and answers anything else with 404.  It is pure
ASGI (no ``BaseHTTPMiddleware``, whose overhead is large under streaming load).
"""

from __future__ import annotations

import hmac
import json
import logging
import os

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Config, load_config
from ..core.encoder import EventEncoder
from ..core.inbound import InboundRequest, read_request
from ..core.run import RunBuilder
from ..core.stream import RunStream
from ..errors import InboundError
from ..providers import UpstreamRequest
from .limits import ActiveStream, StreamGate
from .reliability import UpstreamRun
from .routing import RoutePlan, Target, provider_for
from .session import ClientWriter, serve_stream
from .upstream import new_client

log = logging.getLogger("agui_proxy")


class AGUIProxyMiddleware:
    """Serves the config's routes; everything else goes to ``app`` (or 404 without one).

    ``config`` is a :class:`~agui_proxy.config.Config` or the path of a YAML file.
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
        streams = self.config.streams
        self.gate = StreamGate(streams.max_concurrent, streams.retry_after)
        if not self._tokens:
            log.warning("no auth.bearer_tokens configured: the routes %s accept requests without a token",
                        ", ".join(self._routes))

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self._routes.get(scope["path"])
            if route is not None:
                await self._handle(route, scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await _send_error(send, InboundError(404, "not_found", f"no route at {scope['path']}"))

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Open the shared HTTP client at startup and close it at shutdown, around the app's own."""
        if self.app is None:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._client = self._client or new_client()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

        async def wrapped_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._client = self._client or new_client()
            return message

        async def wrapped_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        await self.app(scope, wrapped_receive, wrapped_send)

    @property
    def secrets(self) -> list[str]:
        """Every key and token of the config: never in a response or a log."""
        return list(self._secrets)

    async def drain(self, grace: float | None = None) -> int:
        """Graceful shutdown: refuse new streams (503), let running ones finish for ``grace`` seconds
        (``streams.shutdown_grace``), then end them with ``RUN_ERROR`` code ``shutdown``.  The CLI
        calls it on SIGTERM; an app that embeds the middleware calls it before its server stops."""
        return await self.gate.drain(self.config.streams.shutdown_grace if grace is None else grace)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # -- one request ---------------------------------------------------------------------------

    async def _handle(self, route: RoutePlan, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _send_error(send, InboundError(405, "method_not_allowed", f"{route.route.path} takes POST"),
                              [(b"allow", b"POST")])
            return
        active: ActiveStream | None = None
        try:
            try:
                self._check_auth(scope)
                active = self.gate.admit()  # before the body: an overloaded process spends nothing on it
                body = await _read_body(scope, receive, self.config.limits.max_body_bytes)
                request = read_request(body)
                targets = route.targets(request.conversation.requested_model)
                first_request = targets[0].build_request(request.conversation, scope["headers"])
            except InboundError as exc:
                extra = [(b"www-authenticate", b"Bearer")] if exc.status == 401 else []
                if exc.retry_after is not None:
                    extra.append((b"retry-after", str(exc.retry_after).encode()))
                await _send_error(send, exc, extra)
                return
            await self._stream(route, request, receive, send, active, targets, first_request, scope["headers"])
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

    async def _stream(self, route: RoutePlan, request: InboundRequest, receive: Receive, send: Send,
                      active: ActiveStream, targets: list[Target], first_request: UpstreamRequest,
                      client_headers: list[tuple[bytes, bytes]]) -> None:
        config = route.route
        done = config.done == "always" or (config.done == "auto" and request.kind == "branderux")

        def new_stream(target: Target) -> RunStream:
            # One per try (same ids), read by the translator of the upstream tried.
            run = RunBuilder(request.thread_id, request.run_id, reasoning=config.reasoning)
            return RunStream(run, target.provider.translator, EventEncoder(event_lines=config.event_lines),
                             done_frame=done, max_event_size=self.config.limits.max_event_bytes,
                             secrets=self._secrets, hold_early_failure=True)

        label = f"route {config.path}: "
        writer = ClientWriter(send)
        upstream_run = UpstreamRun(new_stream, targets[0], writer.write, self._http, secrets=self._secrets,
                                   label=label)
        await serve_stream(upstream_run,
                           lambda: upstream_run.run(targets, first_request, request.conversation, client_headers),
                           receive=receive, writer=writer, active=active, keepalive=self.config.streams.keepalive,
                           label=label)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # served without a lifespan: open the client on first use
            self._client = new_client()
        return self._client


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


def create_app(config: Config | str | os.PathLike[str]) -> AGUIProxyMiddleware:
    """The standalone proxy as an ASGI app (what ``agui-proxy --config`` serves)."""
    return AGUIProxyMiddleware(None, config)

