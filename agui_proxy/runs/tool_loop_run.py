"""One run with server-side tools: the model's steps and the tools the proxy runs between them.

The shell's side of docs/server-tools.md.  A :class:`ToolLoopRun` stands where an
:class:`~agui_proxy.upstream.retries.UpstreamRun` stands for a route without server tools (``respond_with_run``
and the resumable runs' driver use either the same way): it streams each step through an
``UpstreamRun`` of its own (retries and fallbacks per step, as for any run), all of them into one
:class:`~agui_proxy.core.steps.StepRun`, so the client sees one run.  Between two steps it runs
the server calls the model made, in parallel, each bounded by its server's timeout and result
cap, and streams their results.  What comes after each step is the core's decision
(``core/tool_loop.py``).

A client that leaves cancels the run's scope, and with it the tool calls in flight; a resumable
run is driven by a task of its own, which goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

import anyio
import httpx

from ..core.conversation import Conversation, Message, ToolCall
from ..core.pipeline import RunPipeline
from ..core.redact import Redactor
from ..core.steps import StepRun
from ..core.tool_loop import (
    LoopRules,
    Phase,
    after_step,
    interrupt_outcome,
    next_conversation,
    offered,
    refusal,
    tool_message,
    unapprovable,
    with_results,
)
from ..errors import MaxStepsReached
from ..tools import RouteTools, ToolCallRecord, ToolOutcome
from ..upstream.chain import Target
from ..upstream.coalesce import Write
from ..upstream.retries import RunObserver, UpstreamRun

log = logging.getLogger("agui_proxy")


class ToolLoopRun:
    """The run of a route with ``server_tools`` (module docstring)."""

    def __init__(self, step_run: StepRun, new_pipeline: Callable[[Target], RunPipeline], targets: Sequence[Target],
                 conversation: Conversation, tools: RouteTools, rules: LoopRules, *,
                 resumed: Sequence[tuple[ToolCall, bool]], client_headers: Iterable[tuple[bytes, bytes]],
                 write: Write, http: Callable[[], httpx.AsyncClient], redactor: Redactor, label: str,
                 observer: RunObserver, user: str | None, can_interrupt: bool = True) -> None:
        self._run = step_run
        self._new_pipeline = new_pipeline
        self._targets = targets
        self._conversation = conversation
        self._tools = tools
        self._rules = rules
        self._resumed = resumed
        self._client_headers = list(client_headers)
        self._write = write
        self._http = http
        self._redactor = redactor
        self._label = label
        self._observer = observer
        self._user = user
        self._can_interrupt = can_interrupt  # an AG-UI client answers approvals; a BranderUX one cannot
        self._first = new_pipeline(targets[0])  # RUN_STARTED, and the run's end before any step
        self._current: UpstreamRun | None = None
        self.tries = 0
        self._lock = anyio.Lock()  # parallel tool calls stream their results one write at a time
        self.tool_calls: list[ToolCallRecord] = []  # each call run or declined (metrics, access log, spans)

    @property
    def pipeline(self) -> RunPipeline:
        """The pipeline of the current step's try: ending it ends the run (one StepRun under all)."""
        return self._current.pipeline if self._current is not None else self._first

    async def run(self) -> None:
        conversation = self._conversation
        if self._resumed:
            conversation = with_results(conversation, await self._answer_approvals())
        client_has_tools = bool(conversation.tools)
        phase: Phase = "data"
        step = 1
        while not self._run.over:
            await self._step(offered(conversation, self._rules, phase), step)
            if self._run.over or not self._run.ended:
                return  # the step failed (its RUN_ERROR is out) or was stopped
            turn = self._run.recorder.turn()
            decision = after_step(turn.tool_calls, self._rules, step=step, phase=phase,
                                  client_has_tools=client_has_tools, can_interrupt=self._can_interrupt)
            self._run.end_step()
            results = await self._run_calls(decision.run)
            results += [self._decline(call, unapprovable(call)) for call in decision.decline]
            if decision.then in ("next", "render"):
                if results or decision.then == "next":
                    conversation = next_conversation(conversation, turn, results)
                phase = "render" if decision.then == "render" else phase
                step += 1
            elif decision.then == "interrupt":
                self._run.finish_run(outcome=interrupt_outcome(decision.approve))
            elif decision.then == "max_steps":
                await self._write(self.pipeline.fail(MaxStepsReached(
                    f"the model was still calling tools after {self._rules.max_steps} steps (server_tools.max_steps)")))
                return
            else:
                self._run.finish_run()
        await self._flush()

    async def _step(self, conversation: Conversation, step: int) -> None:
        """One upstream call, streamed into the run (its retries and fallbacks are the step's)."""
        self._run.begin_step(step)
        targets = self._targets
        first_request = targets[0].build_request(conversation, self._client_headers)
        upstream = UpstreamRun(self._new_pipeline, targets, first_request, conversation, self._client_headers,
                               self._write, self._http, redactor=self._redactor, label=self._label,
                               observer=self._observer)
        self._current = upstream
        await self._write(upstream.pipeline.start())  # STEP_STARTED (RUN_STARTED went out first)
        try:
            await upstream.run()
        finally:
            self.tries += upstream.tries

    async def _run_calls(self, calls: Sequence[ToolCall]) -> list[Message]:
        """Run the server calls in parallel; each result is streamed as it comes, and returned
        in the order of the calls (the order the provider expects them back)."""
        await self._flush()  # STEP_FINISHED before the calls run
        outcomes: dict[str, ToolOutcome] = {}

        async def one(call: ToolCall) -> None:
            started = time.monotonic()
            outcome = await self._tools.call(call, identity=self._user)
            outcomes[call.id] = outcome
            self.tool_calls.append(ToolCallRecord(self._tools.server_of(call.name) or "-", call.name, call.id,
                                                  outcome.status, started, time.monotonic()))
            if outcome.is_error:
                log.info("%stool %s: %s (%s)", self._label, call.name, outcome.status, outcome.text[:200])
            self._run.tool_result(call.id, outcome.text, server=True)
            await self._flush()

        async with anyio.create_task_group() as group:
            for call in calls:
                group.start_soon(one, call)
        return [tool_message(call, outcomes[call.id].text, error=outcomes[call.id].is_error) for call in calls]

    async def _answer_approvals(self) -> list[Message]:
        """The calls the user approved run now; the declined ones get a refusal, and nothing runs."""
        approved = [call for call, ok in self._resumed if ok]
        results = {m.tool_call_id: m for m in await self._run_calls(approved)}
        messages = [results[call.id] if ok else self._decline(call, refusal(call)) for call, ok in self._resumed]
        await self._flush()
        return messages

    def _decline(self, call: ToolCall, message: Message) -> Message:
        """A call that is not run: the model reads why (``message``), the client gets it as its result."""
        now = time.monotonic()
        self.tool_calls.append(ToolCallRecord(self._tools.server_of(call.name) or "-", call.name, call.id,
                                              "declined", now, now))
        self._run.tool_result(call.id, message.text, server=True)
        return message

    async def _flush(self) -> None:
        async with self._lock:
            out = self.pipeline.start()  # what the run has pending, encoded (and the terminator at its end)
            if out:
                await self._write(out)
