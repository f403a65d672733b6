"""The one place the shell's ASGI pieces are composed, outermost first.

    a route      RequestContextMiddleware [→ ServerSpan, tracing on] → RequestAccounting
                   → CORSMiddleware(POST) → AllowMethods(POST) → AuthMiddleware
                   → [QuotaGuard, with quotas] → RouteHandler
    a probe      RequestContextMiddleware → CORSMiddleware(GET) → AllowMethods(GET) → Healthz | Readyz
    /metrics     RequestContextMiddleware → CORSMiddleware(GET) → AllowMethods(GET)
                   [→ AuthMiddleware, with metrics.require_token] → MetricsEndpoint
    /playground  AllowMethods(GET) → PlaygroundPage
    <route>/capabilities      RequestContextMiddleware → CORSMiddleware(GET) → AllowMethods(GET)
                                [→ AuthMiddleware] → Capabilities
    <route>/runs/<runId>      RequestContextMiddleware → RequestAccounting → CORSMiddleware(GET)
                                → AllowMethods(GET) → AuthMiddleware → RunReattach  (resumable routes)
    no route     RequestContextMiddleware → RequestAccounting → NotFound   (standalone app only)

Each piece is pure ASGI (``__init__(app, ...)``, ``__call__(scope, receive, send)``) and owns one
concern, one module of ``middleware/`` each: the request context (id, timing, identity;
``context.py``), metrics and the access log (``accounting.py``), CORS (``cors.py``), the methods
(``methods.py``), auth (``auth.py``), the quota guard (``quota_guard.py``).  The
probes and ``/metrics`` are not recorded: an orchestrator and a scraper call them every few seconds.
A route without auth (no ``auth.bearer_tokens``, no ``auth.jwt``, no app ``authenticate``) has no
auth piece, and with tracing off none has a span piece (``tracing/``; nothing of OpenTelemetry is
imported then); ``/metrics`` takes only the bearer tokens, never a user's JWT.  :class:`ShellParts` are what the pieces
share, built once per app (``proxy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from ..config import PLAYGROUND_PATH, Config
from ..core.redact import Redactor
from ..middleware.access_log import AccessLog
from ..middleware.accounting import RequestAccounting
from ..middleware.auth import Authenticate, AuthMiddleware
from ..middleware.context import RequestContextMiddleware
from ..middleware.cors import CORSMiddleware, CORSPolicy
from ..middleware.methods import GET, POST, AllowMethods
from ..middleware.metrics import Metrics
from ..middleware.quota_guard import QuotaGuard
from ..quotas import QuotaGate
from ..runs.admission import AdmissionGate
from ..runs.capabilities import Capabilities
from ..runs.keepalive import KeepAlive
from ..runs.reattach import RUNS_SEGMENT, RunReattach
from ..runs.resumable import ResumableRuns
from ..upstream.chain import RoutePlan
from ..users.log_identity import IdentityLog
from .endpoints import Healthz, MetricsEndpoint, NotFound, Readyz
from .lifespan import SharedClient
from .playground import PlaygroundPage
from .route_handler import RouteHandler
from .shutdown import Shutdown

if TYPE_CHECKING:  # imported only when tracing is on
    from ..tracing.setup import Tracing


@dataclass(frozen=True, slots=True)
class ShellParts:
    """What the pieces of one app share."""

    redactor: Redactor
    authenticate: Authenticate | None  # None: the routes take requests without credentials
    scrape_auth: Authenticate | None   # /metrics with metrics.require_token: the bearer tokens
    quotas: QuotaGate | None           # None: no quotas configured
    identity_log: IdentityLog          # the identity as logs show it, and as forward_identity sends it
    metrics: Metrics
    access_log: AccessLog
    cors: CORSPolicy
    shutdown: Shutdown
    gate: AdmissionGate
    keepalive: KeepAlive
    client: SharedClient
    tracing: Tracing | None = None  # None: tracing off
    runs: ResumableRuns | None = None  # the resumable routes' runs (None: no route is resumable)


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Where a request goes: ``routes`` by the path below the mount point, ``endpoints`` by the
    path itself, ``not_found`` when the standalone app has neither."""

    routes: dict[str, ASGIApp]
    endpoints: dict[str, ASGIApp]
    not_found: ASGIApp
    below_routes: dict[str, ASGIApp]  # <route>/capabilities by its path; <route>/runs/ by that prefix

    def below_route(self, path: str) -> ASGIApp | None:
        """What serves a path below a route (its capabilities, its runs), if any."""
        found = self.below_routes.get(path)
        if found is None and (at := path.rfind(RUNS_SEGMENT)) > 0:
            found = self.below_routes.get(path[:at + len(RUNS_SEGMENT)])
        return found


def compose(config: Config, parts: ShellParts) -> Dispatch:
    routes = {route.path: _route(RoutePlan(config, route), config, parts) for route in config.routes}
    endpoints: dict[str, ASGIApp] = {}
    if config.probes.enabled:
        endpoints[config.probes.liveness_path] = _operator(Healthz(), parts)
        endpoints[config.probes.readiness_path] = _operator(Readyz(parts.client, parts.shutdown), parts)
    if config.metrics.enabled:
        scrape: ASGIApp = MetricsEndpoint(parts.metrics)
        if config.metrics.require_token and parts.scrape_auth is not None:
            scrape = AuthMiddleware(scrape, parts.scrape_auth)
        endpoints[config.metrics.path] = _operator(scrape, parts)
    if config.playground:
        endpoints[PLAYGROUND_PATH] = AllowMethods(PlaygroundPage(config), GET)
    not_found = RequestContextMiddleware(RequestAccounting(NotFound(), parts.metrics, parts.access_log))
    return Dispatch(routes, endpoints, not_found, _below_routes(config, parts))


def _below_routes(config: Config, parts: ShellParts) -> dict[str, ASGIApp]:
    below: dict[str, ASGIApp] = {}
    for route in config.routes:
        base = route.path.rstrip("/")
        below[base + "/capabilities"] = _operator(_authenticated(Capabilities(config, route), parts), parts)
        if route.resumable is not None and parts.runs is not None:
            reattach = _authenticated(RunReattach(route.path, parts.runs, parts.gate, parts.keepalive), parts)
            app: ASGIApp = CORSMiddleware(AllowMethods(reattach, GET), parts.cors, GET)
            app = RequestAccounting(app, parts.metrics, parts.access_log)
            below[base + RUNS_SEGMENT] = RequestContextMiddleware(app, route=route.path, upstream=route.upstream)
    return below


def _authenticated(app: ASGIApp, parts: ShellParts) -> ASGIApp:
    return app if parts.authenticate is None else AuthMiddleware(app, parts.authenticate)


def _route(plan: RoutePlan, config: Config, parts: ShellParts) -> ASGIApp:
    app: ASGIApp = RouteHandler(plan, config, gate=parts.gate, keepalive=parts.keepalive, redactor=parts.redactor,
                                metrics=parts.metrics, http=parts.client.get, identity_log=parts.identity_log,
                                runs=parts.runs)
    if parts.quotas is not None:
        app = QuotaGuard(app, parts.quotas)
    if parts.authenticate is not None:
        app = AuthMiddleware(app, parts.authenticate)
    app = AllowMethods(app, POST, path=plan.route.path)
    app = CORSMiddleware(app, parts.cors, POST)
    app = RequestAccounting(app, parts.metrics, parts.access_log)
    if parts.tracing is not None:  # outside the recorder: the access line has the trace id
        app = parts.tracing.server_span(app)
    return RequestContextMiddleware(app, route=plan.route.path, upstream=plan.upstream_name)


def _operator(endpoint: ASGIApp, parts: ShellParts) -> ASGIApp:
    return RequestContextMiddleware(CORSMiddleware(AllowMethods(endpoint, GET), parts.cors, GET))
