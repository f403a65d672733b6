"""The ASGI shell: routing, inbound auth, body limits, and the streaming response.

:class:`AGUIProxyMiddleware` serves the configured routes and passes every other request (HTTP,
WebSocket, lifespan) to the app it wraps, untouched; with no app to wrap it is the standalone
proxy (:func:`create_app`, what the CLI serves) and answers anything else with 404.  It is pure
ASGI (no ``BaseHTTPMiddleware``, whose overhead is large under streaming load).
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import PLAYGROUND_PATH, REPLAY, Config, RouteConfig, UpstreamConfig, load_config
from ..core.encoder import EventEncoder
from ..core.inbound import InboundRequest, read_request
from ..core.run import RunBuilder
from ..core.stream import RunStream
from ..errors import InboundError, UpstreamError
from ..providers import PROVIDERS, Provider, UpstreamRequest, UpstreamSettings
from .coalesce import CoalescingSender
from .exchange import Exchange
from .ops import Operations
from .playground import PlaygroundPage
from .upstream import new_client, open_http, open_replay

log = logging.getLogger("agui_proxy")

_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


@dataclass(slots=True)
class _Route:
    config: RouteConfig
    upstream_name: str
    upstream: UpstreamConfig
    provider: Provider
    replay_file: Path | None


def _provider_for(upstream: UpstreamConfig) -> Provider:
    if upstream.provider == REPLAY:
        settings = UpstreamSettings(base_url="http://replay.invalid", model=upstream.model or "replay")
        return PROVIDERS[upstream.format](settings)
    assert upstream.base_url is not None  # checked by the config
    options = {"max_tokens_param": upstream.max_tokens_param}
    settings = UpstreamSettings(base_url=upstream.base_url, model=upstream.model, api_key=upstream.api_key,
                                headers=dict(upstream.headers), query=dict(upstream.query),
                                extra_body=dict(upstream.body), options=options)
    return PROVIDERS[upstream.provider](settings)


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
        self._routes: dict[str, _Route] = {}
        for route in self.config.routes:
            upstream = self.config.upstreams[route.upstream]
            replay = self.config.replay_file(upstream) if upstream.provider == REPLAY else None
            self._routes[route.path] = _Route(route, route.upstream, upstream, _provider_for(upstream), replay)
        self._tokens = [t.encode() for t in self.config.auth.bearer_tokens]
        self._secrets = list(self.config.auth.bearer_tokens)
        for upstream in self.config.upstreams.values():
            self._secrets += _provider_for(upstream).secrets()
        self._client: httpx.AsyncClient | None = None
        self._shutting_down = False
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
                                     route=route.config.path, upstream=route.upstream_name)
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
                    self._client = self._client or new_client()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.begin_shutdown()
                    await self.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

        async def wrapped_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._client = self._client or new_client()
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

    async def aclose(self) -> None:
        self.ops.close()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # -- one request ---------------------------------------------------------------------------

    async def _handle(self, route: _Route, exchange: Exchange, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _send_error(send, InboundError(405, "method_not_allowed", f"{route.config.path} takes POST"),
                              [(b"allow", b"POST")])
            return
        try:
            self._check_auth(scope)
            body = await _read_body(scope, receive, self.config.limits.max_body_bytes)
            request = read_request(body)
            # Built before the 200, so a conversation the provider cannot express is a 422.
            upstream_request = None if route.replay_file else route.provider.build_request(request.conversation)
        except InboundError as exc:
            exchange.error = exc.type
            extra = [(b"www-authenticate", b"Bearer")] if exc.status == 401 else []
            await _send_error(send, exc, extra)
            return
        await self._stream(route, request, upstream_request, exchange, receive, send)

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

    async def _stream(self, route: _Route, request: InboundRequest, upstream_request: UpstreamRequest | None,
                      exchange: Exchange, receive: Receive, send: Send) -> None:
        done = route.config.done == "always" or (route.config.done == "auto" and request.kind == "branderux")
        run = RunBuilder(request.thread_id, request.run_id, reasoning=route.config.reasoning,
                         parent_run_id=request.parent_run_id)
        stream = RunStream(run, route.provider.translator, EventEncoder(event_lines=route.config.event_lines),
                           done_frame=done, max_event_size=self.config.limits.max_event_bytes,
                           secrets=self._secrets)
        exchange.stream = stream
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await send({"type": "http.response.body", "body": stream.start(), "more_body": True})

        async with anyio.create_task_group() as tg:
            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()  # the client left: stop reading the upstream now

            tg.start_soon(watch_disconnect)
            try:
                await self._pump(route, upstream_request, stream, exchange, send)
            finally:
                tg.cancel_scope.cancel()
        if stream.error is not None:
            log.warning("request %s route %s upstream %s: run ended with %s: %s", exchange.request_id,
                        route.config.path, route.upstream_name, stream.error.code, stream.error.message)

    async def _pump(self, route: _Route, upstream_request: UpstreamRequest | None, stream: RunStream,
                    exchange: Exchange, send: Send) -> None:
        body = CoalescingSender(send)
        try:
            if upstream_request is None:
                assert route.replay_file is not None
                source = open_replay(route.replay_file, route.upstream.chunk_size, route.upstream.interval)
            else:
                if self._client is None:  # served without a lifespan: open the client on first use
                    self._client = new_client()
                source = open_http(self._client, upstream_request, route.provider)
            async with source as chunks:
                async for chunk in body.read(chunks):  # frames of chunks received together: one send
                    out = stream.feed(chunk)
                    exchange.upstream_chunk(out)
                    body.queue(out)
                    if stream.ended:
                        await body.flush()
                        break
                else:
                    await body.send(stream.close())
        except UpstreamError as exc:
            await body.send(stream.fail(exc))
        except OSError as exc:  # a replay file that cannot be read
            error = UpstreamError(f"the recording cannot be read ({exc.strerror})", code="upstream_unavailable")
            await body.send(stream.fail(error))
        await send({"type": "http.response.body", "body": b"", "more_body": False})


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

