"""The handler of one configured route: a client's request in, its run streamed back.

Plain ASGI, at the centre of the route's chain (``stack.py``): by the time it runs, the request
has its context (``middleware/context.py``), passed CORS, is a ``POST`` and is authenticated.  It admits the
run (the stream cap, the drain), reads and checks the body, picks the route's upstream chain,
then hands the run to ``runs/stream.py``; a request refused on the way gets its JSON error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from starlette.types import Receive, Scope, Send

from ..config import Config
from ..core.conversation import ToolCall
from ..core.enrichers import DEFAULT_ENRICHERS, Enricher
from ..core.inbound import InboundRequest, read_request
from ..core.pipeline import RunPipeline
from ..core.redact import Redactor
from ..core.run import RunBuilder
from ..core.steps import StepRun
from ..core.tool_loop import LoopRules, check_names, resumed_calls
from ..errors import InboundError, StoreUnavailable
from ..middleware.context import RequestContext, request_context
from ..middleware.json_answers import send_error
from ..middleware.metrics import Metrics
from ..providers import ProviderRequest
from ..runs.admission import AdmissionGate, RunSlot
from ..runs.keepalive import KeepAlive
from ..runs.reader import follow_run
from ..runs.reattach import check_run_id
from ..runs.resumable import ResumableRuns
from ..runs.stream import SSEWriter, respond_with_run
from ..runs.tool_loop_run import ToolLoopRun
from ..store import Created, run_key
from ..tools import RouteTools, ServerTools
from ..upstream.chain import RoutePlan, Target
from ..upstream.coalesce import Write
from ..upstream.retries import Ready, RunObserver, StreamedRun, Unobserved, UpstreamRun, not_yet
from ..users.log_identity import IdentityLog
from .request_body import check_json_body, read_body_within

RUNS_RETRY_AFTER = 5  # seconds, when no kept run has ended to make room for a new one


class RouteHandler:
    def __init__(self, plan: RoutePlan, config: Config, *, gate: AdmissionGate, keepalive: KeepAlive,
                 redactor: Redactor, metrics: Metrics, http: Callable[[], httpx.AsyncClient],
                 identity_log: IdentityLog, runs: ResumableRuns | None = None,
                 enrichers: Sequence[Enricher] = (), server_tools: ServerTools | None = None) -> None:
        self.plan = plan
        # The route's server tools (docs/server-tools.md); None: a plain run, with nothing of the loop.
        tools_config = plan.route.server_tools
        self.server_tools = (server_tools, server_tools.for_route(tools_config)) \
            if server_tools is not None and tools_config is not None else None
        self.runs = runs if plan.route.resumable is not None else None  # None: not a resumable route
        self.max_body_bytes = config.limits.max_body_bytes
        self.body_timeout = config.limits.body_timeout
        self.max_event_bytes = config.limits.max_event_bytes
        self.gate = gate
        self.keepalive = keepalive
        self.redactor = redactor
        self.metrics = metrics
        self.http = http
        self.identity_log = identity_log
        self.enrichers = tuple(enrichers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = request_context(scope)
        slot: RunSlot | None = None
        try:
            try:
                self.gate.check()  # before the body: an overloaded process spends nothing on it
                check_json_body(scope)
                # The body is not kept: a 10 MB prompt is not held for the whole stream.
                body = await read_body_within(scope, receive, self.max_body_bytes, self.body_timeout)
                slot = self.gate.admit()  # once the body is in: a body sent slowly holds no slot
                request = read_request(body)
                targets = self.plan.targets(request.conversation.requested_model)
                if context.identity is not None and any(t.forward_identity for t in targets):
                    user = self.identity_log.user(context.identity.id)
                    targets = [target.for_user(user) for target in targets]
                first_request = targets[0].build_request(request.conversation, scope["headers"])
                loop = self._loop_plan(request)
                label = f"request {context.request_id} {self.plan.label}"
                if self.runs is not None:
                    key = await self._start_resumable(request, targets, first_request, scope, slot, label, loop)
                    slot = None  # the run's driver holds it now
                    await follow_run(self.runs.log, key, request.run_id, 0, receive=receive, send=send,
                                     keepalive=self.keepalive, label=label)
                    return
            except InboundError as exc:
                context.error = exc.type
                await send_error(send, exc)
                return
            writer = SSEWriter(send)
            run = self._upstream_run(request, writer.write, targets, first_request, scope["headers"], context, label,
                                     loop, ready=writer.open)
            context.run = run.pipeline
            await respond_with_run(run, receive=receive, writer=writer, slot=slot, keepalive=self.keepalive,
                                   label=label)
        finally:
            if slot is not None:
                self.gate.release(slot)

    async def _start_resumable(self, request: InboundRequest, targets: list[Target], first_request: ProviderRequest,
                               scope: Scope, slot: RunSlot, label: str, loop: LoopPlan | None) -> str:
        """A run that outlives this response (``runs/resumable.py``): claimed in the run log and driven
        by a task of its own (which takes ``slot``); this response is then one of its readers.
        Returns the run's key in the log."""
        assert self.runs is not None and self.plan.route.resumable is not None
        context = request_context(scope)
        key = run_key(context.identity.id if context.identity else None, request.run_id)
        check_run_id(request.run_id)
        try:
            created = await self.runs.create(key, self.plan.route.resumable)
        except StoreUnavailable as exc:
            raise InboundError(503, "store_unavailable", "the run cannot be kept now (the store failed); "
                               "send the request again", retry_after=1) from exc
        if created == Created.OWNER_FULL:
            raise InboundError(429, "too_many_runs", f"this identity keeps {self.runs.config.max_kept_per_identity} "
                               "runs, every one still running (runs.max_kept_per_identity); send it again once "
                               "one has ended", retry_after=RUNS_RETRY_AFTER)
        if created == Created.FULL:
            raise InboundError(503, "too_many_runs", f"the proxy keeps {self.runs.config.max_kept} runs, every one "
                               "still running (runs.max_kept); send it again later", retry_after=RUNS_RETRY_AFTER)
        if created == Created.EXISTS:
            raise InboundError(409, "run_exists", f"a run with runId {request.run_id!r} was already started; "
                               f"reattach with GET {self.plan.route.path}/runs/<runId> or send a new runId")
        run, context.outliving_run = self.runs.start(
            key, self.plan.route.resumable, slot,
            lambda write: self._upstream_run(request, write, targets, first_request, scope["headers"], context,
                                             label, loop),
            done=self._done(request), label=label)
        context.run = run.pipeline
        return key

    def _done(self, request: InboundRequest) -> bool:
        route = self.plan.route
        return route.done == "always" or (route.done == "auto" and request.kind == "branderux")

    def _loop_plan(self, request: InboundRequest) -> LoopPlan | None:
        """The server tools' rules for this run, checked against the request (a 422 before the
        stream: a client tool named like a server tool, a resume entry that answers nothing)."""
        if self.server_tools is None:
            return None
        every, tools = self.server_tools
        every.start()  # served without a lifespan (an app mounted in another): connect on first use
        rules = tools.rules()
        check_names(request.conversation, rules)
        resumed = resumed_calls(request.conversation, request.resume, rules.confirm)
        return LoopPlan(tools, rules, resumed)

    def _upstream_run(self, request: InboundRequest, write: Write, targets: list[Target],
                      first_request: ProviderRequest, client_headers: list[tuple[bytes, bytes]],
                      context: RequestContext, label: str, loop: LoopPlan | None = None, *,
                      ready: Ready = not_yet) -> StreamedRun:
        route = self.plan.route
        # A resumable run's terminator is the end entry of its log, written once for every reader.
        done = self._done(request) and route.resumable is None
        # The provider's citations (docs/provider-tools-and-citations.md): auto is AG-UI clients only.
        cite = route.citations_for(request.kind)
        provider_tools = request.kind == "agui"  # a BranderUX client shows every call
        enrichers = (DEFAULT_ENRICHERS if cite else ()) + self.enrichers
        step_run: StepRun | None = None
        if loop is not None:  # one run over every upstream call (core/steps.py)
            step_run = StepRun(request.thread_id, request.run_id, server_tools=loop.rules.server_tools,
                               show_reasoning=route.reasoning_for(request.kind),
                               hide_server_tools=request.kind == "branderux", step_events=request.kind == "agui",
                               parent_run_id=request.parent_run_id, provider_tools=provider_tools, citations=cite)

        def new_pipeline(target: Target) -> RunPipeline:
            # One per try (same ids), read by the translator of the upstream tried.
            run = step_run or RunBuilder(request.thread_id, request.run_id, reasoning=route.reasoning_for(request.kind),
                                         parent_run_id=request.parent_run_id, citations=cite,
                                         provider_tools=provider_tools)
            return RunPipeline(run, target.provider.translator, self.plan.encoder, done_frame=done,
                             max_event_size=self.max_event_bytes, redactor=self.redactor, hold_early_failure=True,
                             enrichers=enrichers, client=request.kind, make_decoder=target.provider.decoder)

        observer: RunObserver = ContextObserver(context, self.metrics, route.path)
        if context.span is not None:  # tracing on: a client span per try (tracing/spans.py)
            observer = context.span.observer(observer, targets, context)
        if loop is not None and step_run is not None:
            user = self.identity_log.user(context.identity.id) if context.identity is not None else None
            run = ToolLoopRun(step_run, new_pipeline, targets, request.conversation, loop.tools, loop.rules,
                              resumed=loop.resumed, client_headers=client_headers, write=write, http=self.http,
                              redactor=self.redactor, label=label, observer=observer, user=user,
                              can_interrupt=request.kind == "agui")
            context.tool_calls = run.tool_calls
            return run
        return UpstreamRun(new_pipeline, targets, first_request, request.conversation, client_headers,
                           write, self.http, redactor=self.redactor, label=label, observer=observer, ready=ready)


@dataclass(frozen=True, slots=True)
class LoopPlan:
    """A run's server tools: the route's tools, their rules now, the approvals it answers."""

    tools: RouteTools
    rules: LoopRules
    resumed: list[tuple[ToolCall, bool]]


class ContextObserver(Unobserved):
    """Tells a request's context and the metrics what its upstream run does (upstream.retries.RunObserver)."""

    __slots__ = ("_context", "_metrics", "_route")

    def __init__(self, context: RequestContext, metrics: Metrics, route: str) -> None:
        self._context = context
        self._metrics = metrics
        self._route = route

    def outbound(self, upstream: str, request: ProviderRequest) -> ProviderRequest:
        self._context.calling_upstream()
        return request

    def attempt(self, upstream: str, pipeline: RunPipeline, retry: bool) -> None:
        self._context.upstream = upstream
        self._context.run = pipeline
        if retry:
            self._metrics.retry(upstream)

    def fallback(self, from_upstream: str, to_upstream: str) -> None:
        self._metrics.fallback(self._route, from_upstream, to_upstream)

    def chunk(self, out: bytes) -> None:
        self._context.upstream_chunk(out)
