"""The proxy as an ASGI app: :class:`AGUIProxyMiddleware` and :func:`create_app`.

:class:`AGUIProxyMiddleware` serves the configured routes and passes every other request (HTTP,
WebSocket, lifespan) to the app it wraps, untouched; with no app to wrap it is the standalone
proxy (:func:`create_app`, what the CLI serves) and answers anything else with 404.  It builds
the parts the shell shares once (``stack.ShellParts``), has ``stack.py`` compose the ASGI pieces
of each path, and dispatches.  Pure ASGI throughout (no ``BaseHTTPMiddleware``, whose overhead is
large under streaming load).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Config, load_config
from ..core.enrichers import Enricher
from ..core.redact import Redactor
from ..middleware.access_log import AccessLog, ensure_log_output
from ..middleware.auth import Authenticate, BearerTokens, ConfigAuth
from ..middleware.cors import CORSPolicy
from ..middleware.header_count import too_many_headers
from ..middleware.json_answers import send_error
from ..middleware.metrics import Metrics
from ..quotas import QuotaGate
from ..runs.admission import AdmissionGate
from ..runs.keepalive import KeepAlive
from ..runs.resumable import resumable_runs
from ..store import open_store
from ..tools import open_server_tools
from ..tracing import tracing_for
from ..upstream.clouds import cloud_authorizers, describe_credentials
from ..users.log_identity import IdentityLog
from .hosting import hosting_line, middleware_config
from .lifespan import Lifespan, SharedClient
from .secrets import config_redactor
from .shutdown import Shutdown, drain_on_exit_signals
from .stack import ShellParts, compose

log = logging.getLogger("agui_proxy")
startup = logging.getLogger("agui_proxy.startup")


class AGUIProxyMiddleware:
    """Serves the config's routes; everything else goes to ``app`` (or 404 without one).

    ``config`` is a :class:`~agui_proxy.config.Config` (``load_config(path)``) or the path of a
    YAML file.  Route paths are matched below the ``root_path`` (a mount point).  HTTP requests
    to other paths, WebSocket connections and the lifespan go to ``app`` as they are; the
    lifespan also opens the shared upstream client at startup and closes it at shutdown.  Where
    no lifespan reaches it (an app mounted in Starlette), the client opens on first use and
    :meth:`aclose` closes it.

    ``authenticate``: an async ``(scope) -> Identity | None`` that says who sent a request (an
    app's own sessions or cookies); ``None`` or raising :class:`~agui_proxy.errors.AuthError`
    refuses it with 401.  Without it, the config's ``auth`` does.

    ``enrichers``: callables that see each AG-UI event of every run and may add events or
    metadata (:mod:`agui_proxy.core.enrichers`), after the citation enricher.
    """

    def __init__(self, app: ASGIApp | None, config: Config | str | os.PathLike[str], *,
                 authenticate: Authenticate | None = None, enrichers: Sequence[Enricher] = ()) -> None:
        self.app = app
        self.config = config if isinstance(config, Config) else load_config(config)
        if app is not None:  # in front of an app: no probes or /metrics on its paths unless asked for
            self.config = middleware_config(self.config)
        streams, auth = self.config.streams, self.config.auth
        shutdown = Shutdown(streams.shutdown_grace)
        redactor = config_redactor(self.config)
        client, metrics = SharedClient(self.config), Metrics()
        # An app's own authenticate (its sessions, its cookies) replaces the config's auth.
        authenticate = authenticate or (ConfigAuth(auth, client.get) if auth.enabled else None)
        # The cloud upstreams' credentials, found now: none found is an error naming the upstream.
        clouds = cloud_authorizers(self.config)
        for name, info in describe_credentials(self.config, clouds).items():
            startup.info("upstream %s: %s", name, info)
        self.store = open_store(self.config.store) if self.config.quotas.enabled else None
        gate = AdmissionGate(streams.max_concurrent, streams.retry_after, shutdown)
        self.parts = ShellParts(
            redactor=redactor, authenticate=authenticate, metrics=metrics,
            scrape_auth=BearerTokens(auth.bearer_tokens) if auth.bearer_tokens else None,
            quotas=None if self.store is None else QuotaGate(self.config.quotas, self.store,
                                                            prefix=self.config.store.prefix, metrics=metrics.quotas),
            identity_log=IdentityLog(self.config.logging),
            access_log=AccessLog(self.config.logging, redactor), cors=CORSPolicy(self.config.cors),
            shutdown=shutdown, gate=gate, keepalive=KeepAlive(streams.keepalive), client=client,
            tracing=tracing_for(self.config, redactor), runs=resumable_runs(self.config, gate),
            enrichers=tuple(enrichers), clouds=clouds,
            server_tools=open_server_tools(self.config.mcp_servers, redactor=redactor))
        self._dispatch = compose(self.config, self.parts)
        self._lifespan = Lifespan(app, started=self._started, stopping=shutdown.begin, aclose=self.aclose)
        # Set by the CLI's server (serving/serve.py): SIGTERM and SIGINT start the drain (shutdown.py).
        self.drain_on_exit_signals = False
        if authenticate is None:
            log.warning("no auth configured (auth.bearer_tokens, auth.jwt): the routes %s accept requests "
                        "without a token", ", ".join(self._dispatch.routes))
        if app is not None:
            startup.info(hosting_line(self.config, "in front of an app", ensure_log_output(self.config.logging)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = route_path(scope)
            handler = (self._dispatch.routes.get(path) or self._dispatch.endpoints.get(scope["path"])
                       or self._dispatch.below_route(path))
            if handler is not None or self.app is None:
                refused = too_many_headers(scope["headers"], self.config.limits.max_headers)
                if refused is not None:
                    await send_error(send, refused)
                    return
            if handler is not None:
                await handler(scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await self._dispatch.not_found(scope, receive, send)

    def _started(self) -> None:
        self.parts.client.get()
        if self.parts.server_tools is not None:
            self.parts.server_tools.start()  # connects in the background: a server that is down is retried
        if self.drain_on_exit_signals:
            drain_on_exit_signals(self.drain)

    @property
    def http_client(self) -> httpx.AsyncClient | None:
        """The shared upstream client: opened at lifespan startup, closed at shutdown."""
        return self.parts.client.current

    @property
    def redactor(self) -> Redactor:
        """Takes every key and token of the config out of a text (never in a response or a log)."""
        return self.parts.redactor

    def begin_shutdown(self) -> None:
        """From now on ``/readyz`` answers 503 and new streams are refused (running ones go on)."""
        self.parts.shutdown.begin()

    def drain(self, grace: float | None = None) -> asyncio.Future[int]:
        """Graceful shutdown: refuse new streams (503), let running ones finish for ``grace`` seconds
        (``streams.shutdown_grace``), then end them with ``RUN_ERROR`` code ``shutdown``.  The CLI
        calls it on SIGTERM; an app that embeds the middleware awaits it before its server stops.
        The future gives how many streams had to be ended."""
        return self.parts.shutdown.drain(self.parts.gate, grace)

    async def aclose(self) -> None:
        self.parts.metrics.close()
        if self.parts.tracing is not None:
            self.parts.tracing.close()  # exports what is still buffered
        self.parts.keepalive.close()
        await self.parts.client.aclose()
        for authorizer in self.parts.clouds.values():
            authorizer.close()
        if self.parts.server_tools is not None:
            await self.parts.server_tools.aclose()  # stops the stdio servers the proxy started
        if self.parts.runs is not None:
            await self.parts.runs.aclose()
        if self.parts.quotas is not None:
            await self.parts.quotas.aclose()
        if self.store is not None:
            store, self.store = self.store, None
            await store.aclose()


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


def create_app(config: Config | str | os.PathLike[str], *, enrichers: Sequence[Enricher] = ()) -> AGUIProxyMiddleware:
    """The standalone proxy as an ASGI app (what ``agui-proxy --config`` serves)."""
    return AGUIProxyMiddleware(None, config, enrichers=enrichers)
