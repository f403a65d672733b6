"""A run of several upstream calls (steps): the model calls tools the proxy runs, then goes on.

One AG-UI run, one ``RUN_STARTED`` and one ``RUN_FINISHED``, however many steps it takes
(PROTOCOL.md section 6, docs/server-tools.md).  :class:`StepRun` is the run's
:class:`~agui_proxy.core.run.RunBuilder`: each step's translator speaks to it as to any run, but a
translator's ``finish`` ends only the step (its stop reason and usage are kept), and the run goes
on with the next step's translator.  On its way out, every event passes two readers:

- a :class:`TurnRecorder`, which rebuilds the model's own turn from the events of the step (its
  text, its tool calls with their signatures, its reasoning with its signatures), read exactly as
  ``agui_input.py`` reads what ``@ag-ui/client`` sends back from the same events, so the next
  step's request carries what a client's next request would (the multi-turn rules);
- the client's view: a BranderUX body sees no event of a tool the proxy runs (its client renders
  every tool call as a screen), and reasoning only where the route shows it.

The driver (the shell) calls :meth:`StepRun.begin_step` before each upstream call and
:meth:`StepRun.end_step` after it, reports each server tool's outcome with
``tool_result(..., server=True)`` (the builder's one way out for every tool result, a provider's
tools' too), and ends the run with :meth:`StepRun.finish_run` or ``fail``.
Nothing here does I/O; what to do after a step is :mod:`agui_proxy.core.tool_loop`'s call.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from . import events as ev
from .conversation import Message, ReasoningPart, TextPart, ToolCall
from .provider_tools import ProviderCall, read_provider_tool_value
from .run import RunBuilder, new_id

_REASONING_EVENTS = (ev.ReasoningStart, ev.ReasoningMessageStart, ev.ReasoningMessageContent,
                     ev.ReasoningMessageEnd, ev.ReasoningEnd)


@dataclass(slots=True)
class _Reasoning:
    id: str
    text: list[str] = field(default_factory=list)
    value: str | None = None


class TurnRecorder:
    """The assistant turn of one step, rebuilt from the events the step produced.

    Text messages of the step become one text (one turn per upstream call, as the provider
    made it); a tool call keeps its id, name, arguments and ``tool-call`` encrypted value; a
    reasoning message with an encrypted value becomes a :class:`ReasoningPart` (its text signed
    by the value, or, with no text, a value with nothing readable), one without is dropped: the
    same reading as ``agui_input.py``'s of a client's history.
    """

    __slots__ = ("_calls", "_reasoning", "_text")

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[str, ToolCall] = {}
        self._reasoning: dict[str, _Reasoning] = {}

    def see(self, event: ev.Event) -> None:
        cls = type(event)
        if cls is ev.TextMessageContent:
            self._text.append(event.delta)  # type: ignore[union-attr]
        elif cls is ev.ToolCallStart:
            self._calls[event.tool_call_id] = ToolCall(event.tool_call_id, event.tool_call_name, "")  # type: ignore[union-attr]
        elif cls is ev.ToolCallArgs:
            call = self._calls.get(event.tool_call_id)  # type: ignore[union-attr]
            if call is not None:
                call.arguments += event.delta  # type: ignore[union-attr]
        elif cls is ev.ReasoningMessageStart:
            self._reasoning.setdefault(event.message_id, _Reasoning(event.message_id))  # type: ignore[union-attr]
        elif cls is ev.ReasoningMessageContent:
            self._reasoning.setdefault(event.message_id, _Reasoning(event.message_id)).text.append(event.delta)  # type: ignore[union-attr]
        elif cls is ev.ReasoningEncryptedValue:
            self._encrypted(event)  # type: ignore[arg-type]

    def _encrypted(self, event: ev.ReasoningEncryptedValue) -> None:
        if event.subtype == "tool-call":
            call = self._calls.get(event.entity_id)
            if call is not None:
                call.signature = event.encrypted_value
        else:
            self._reasoning.setdefault(event.entity_id, _Reasoning(event.entity_id)).value = event.encrypted_value

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The step's calls of the client's and the proxy's tools (not those the provider ran)."""
        return [call for call in self._calls.values() if read_provider_tool_value(call.signature) is None]

    def provider_calls(self) -> list[ProviderCall]:
        """The step's calls the provider ran itself, marked by their value (``provider_tools.py``)."""
        calls = []
        for call in self._calls.values():
            provider_run = read_provider_tool_value(call.signature)
            if provider_run is not None:
                calls.append(ProviderCall(call.id, call.name, call.arguments or "{}", *provider_run))
        return calls

    def turn(self) -> Message:
        """The assistant turn, for the next step's request."""
        reasoning = []
        for part in self._reasoning.values():
            if part.value is None:
                continue
            text = "".join(part.text)
            reasoning.append(ReasoningPart(text=text, signature=part.value, id=part.id) if text
                             else ReasoningPart(redacted_data=part.value, id=part.id))
        text = "".join(self._text)
        return Message("assistant", [TextPart(text)] if text else [], tool_calls=self.tool_calls,
                       reasoning=reasoning, provider_calls=self.provider_calls())


@dataclass(frozen=True, slots=True)
class StepEnd:
    """How an upstream call ended (what its translator gave ``finish``)."""

    stop_reason: str | None
    provider_stop_reason: str | None
    usage: ev.TokenUsage | None


class StepRun(RunBuilder):
    """The :class:`RunBuilder` of a run with server-side tools (module docstring).

    ``server_tools``: the names of the tools the proxy runs (their events are hidden from the
    client when ``hide_server_tools``); ``show_reasoning``: whether the client sees reasoning
    (it is always recorded: the next step needs its signatures); ``step_events``: whether each
    upstream call is framed by ``STEP_STARTED`` / ``STEP_FINISHED`` (AG-UI bodies);
    ``provider_tools`` and ``citations`` as for any run (:class:`RunBuilder`).
    """

    def __init__(self, thread_id: str, run_id: str, *, server_tools: Collection[str], show_reasoning: bool,
                 hide_server_tools: bool, step_events: bool, parent_run_id: str | None = None,
                 id_factory: Callable[[str], str] = new_id, provider_tools: bool = True,
                 citations: bool = True) -> None:
        super().__init__(thread_id, run_id, reasoning=True, id_factory=id_factory, parent_run_id=parent_run_id,
                         provider_tools=provider_tools, citations=citations)
        self._server_tools = frozenset(server_tools)
        self._show_reasoning = show_reasoning
        self._hide_server = hide_server_tools
        self._step_events = step_events
        self._hidden_calls: set[str] = set()
        self.recorder = TurnRecorder()
        self.steps: list[StepEnd] = []  # the upstream calls that ended, in order
        self.step_name: str | None = None  # the open step

    # -- what leaves: recorded, then filtered for the client -------------------------------------

    def take(self) -> list[ev.Event]:
        events = super().take()
        shown = []
        for event in events:
            self.recorder.see(event)
            if self._shown(event):
                shown.append(event)
        return shown

    def _shown(self, event: ev.Event) -> bool:
        cls = type(event)
        if cls in _REASONING_EVENTS:
            return self._show_reasoning
        if cls is ev.ReasoningEncryptedValue:
            if event.subtype == "tool-call":  # type: ignore[union-attr]
                return event.entity_id not in self._hidden_calls  # type: ignore[union-attr]
            return self._show_reasoning
        if not self._hide_server:
            return True
        if cls is ev.ToolCallStart and event.tool_call_name in self._server_tools:  # type: ignore[union-attr]
            self._hidden_calls.add(event.tool_call_id)  # type: ignore[union-attr]
            return False
        if cls in (ev.ToolCallArgs, ev.ToolCallEnd, ev.ToolCallResult):
            return event.tool_call_id not in self._hidden_calls  # type: ignore[union-attr]
        return True

    # -- steps -------------------------------------------------------------------------------

    def begin_step(self, number: int) -> None:
        """The next upstream call begins: a fresh turn, and ``STEP_STARTED`` for AG-UI bodies."""
        if self.over:
            return
        self.ended = False
        self.recorder = TurnRecorder()
        self.step_name = f"upstream_call_{number}"
        if self._step_events:
            self._out.append(ev.StepStarted(self.step_name))

    def finish(self, *, stop_reason: str | None = None, provider_stop_reason: str | None = None,
               usage: ev.TokenUsage | None = None) -> None:
        """The translator's end of its stream: the end of this step only."""
        if self.ended:
            return
        self._close_all()
        self.steps.append(StepEnd(stop_reason, provider_stop_reason, usage))
        self.ended = True

    def end_step(self) -> None:
        """``STEP_FINISHED`` for the open step (everything the step opened is closed first)."""
        self._close_all()
        if self.step_name is not None and self._step_events and not self.over:
            self._out.append(ev.StepFinished(self.step_name))
        self.step_name = None

    # -- the run's end -----------------------------------------------------------------------

    def finish_run(self, *, outcome: dict[str, Any] | None = None) -> None:
        """``RUN_FINISHED``: the last step's stop reason, every step's usage, and ``outcome``."""
        if self.over:
            return
        self.end_step()
        last = self.steps[-1] if self.steps else StepEnd(None, None, None)
        result: dict[str, Any] | None = None
        if last.stop_reason or last.provider_stop_reason:
            result = {"stopReason": last.stop_reason or last.provider_stop_reason}
            if last.provider_stop_reason:
                result["providerStopReason"] = last.provider_stop_reason
        usages = tuple(step.usage for step in self.steps if step.usage is not None)
        self._out.append(ev.RunFinished(self.thread_id, self.run_id, result, usages or None, outcome))
        self.usage = summed_usage(usages)
        self.finish_reason = last.provider_stop_reason or last.stop_reason
        self.ended = self.over = True

    def fail(self, message: str, code: str) -> None:
        if self.over:
            return
        self.end_step()
        self.ended = False  # let RunBuilder.fail write RUN_ERROR
        self.usage = summed_usage(tuple(step.usage for step in self.steps if step.usage is not None))
        super().fail(message, code)


def summed_usage(usages: tuple[ev.TokenUsage, ...]) -> ev.TokenUsage | None:
    """The run's usage over its steps (what quotas, metrics and logs count): each count added up
    where any step reported it; the provider and model of the first step."""
    if not usages:
        return None
    if len(usages) == 1:
        return usages[0]

    def total(name: str) -> int | None:
        values = [getattr(u, name) for u in usages if getattr(u, name) is not None]
        return sum(values) if values else None

    return ev.TokenUsage(provider=usages[0].provider, model=usages[0].model, input_tokens=total("input_tokens"),
                         output_tokens=total("output_tokens"), total_tokens=total("total_tokens"),
                         reasoning_tokens=total("reasoning_tokens"), cached_input_tokens=total("cached_input_tokens"),
                         cache_write_input_tokens=total("cache_write_input_tokens"))
