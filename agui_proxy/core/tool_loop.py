"""The decisions of a run with server-side tools, without I/O (docs/server-tools.md).

The shell drives the loop: it asks :func:`offered` what the next upstream call offers the model,
streams that call into a :class:`~agui_proxy.core.steps.StepRun`, asks :func:`after_step` what
the model's turn calls for, runs the server tools it names, and builds the next call's
conversation with :func:`next_conversation`.  Everything a run needs is in the client's request:
an approval's answer (AG-UI ``resume``) is matched to the call it approves by :func:`resumed_calls`,
so the proxy keeps nothing between two runs.

The rules, in order, after each step:

- in the render step every call is the client's, and the run ends;
- calls to tools that wait for approval (``confirm``): the others run, then the run ends with
  the AG-UI interrupt outcome naming the waiting calls; a client that cannot answer an interrupt
  (a BranderUX body) has them declined instead, and the loop goes on;
- calls to the client's tools: the server calls run, then the run ends with the client's calls
  open (the provider needs every result before it goes on; the client's next request brings all);
- server calls only: they run and the next step streams, unless that step would pass
  ``max_steps`` (``RUN_ERROR`` ``max_steps``); with ``render: required``, the data steps may take
  all but the last step, which is then the render step;
- no call: the answer is done, or with ``render: required`` the render step comes (when the
  client has tools to render with).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import InboundError
from .conversation import Conversation, Message, TextPart, Tool, ToolCall, ToolChoice

Then = Literal["next", "render", "end", "interrupt", "max_steps"]
Phase = Literal["data", "render"]

APPROVAL_PREFIX = "approval:"
APPROVAL_REASON = "tool_approval"


@dataclass(frozen=True, slots=True)
class LoopRules:
    """A route's ``server_tools`` with the servers' tools in hand: what the model may call."""

    server_tools: Mapping[str, Tool]  # by name, the allowed ones only
    confirm: frozenset[str] = frozenset()
    max_steps: int = 8
    render: bool = False


@dataclass(frozen=True, slots=True)
class AfterStep:
    """What a step's turn calls for: the server calls to run now, those waiting for approval,
    those declined (no one can approve them), the client's calls left open, and what comes next."""

    run: tuple[ToolCall, ...]
    approve: tuple[ToolCall, ...]
    client: tuple[ToolCall, ...]
    then: Then
    decline: tuple[ToolCall, ...] = ()


def check_names(conversation: Conversation, rules: LoopRules) -> None:
    """A client tool named like a server tool is refused (422): the model could not tell them
    apart, and the proxy would run the wrong one.  Names are not prefixed (docs/server-tools.md)."""
    for i, tool in enumerate(conversation.tools):
        if tool.name in rules.server_tools:
            raise InboundError(422, "tool_name_clash", f"tools[{i}].name: {tool.name!r} is also the name of a tool "
                               "this route runs on its MCP servers (server_tools); rename the client's tool")


def offered(conversation: Conversation, rules: LoopRules, phase: Phase) -> Conversation:
    """The conversation as the next upstream call sends it, with the tools that step offers.

    Without ``render``: the client's tools and the server tools, and the client's tool choice.
    With ``render: required``: the data steps offer only the server tools (the model decides
    whether to call them); the render step offers only the client's, one of which must be called.
    """
    server = list(rules.server_tools.values())
    if not rules.render:
        return dataclasses.replace(conversation, server_tools=server)
    if phase == "data":
        return dataclasses.replace(conversation, tools=[], native_tools={}, server_tools=server, tool_choice=None)
    return dataclasses.replace(conversation, server_tools=[], tool_choice=ToolChoice("any"))


def after_step(calls: Sequence[ToolCall], rules: LoopRules, *, step: int, phase: Phase,
               client_has_tools: bool, can_interrupt: bool = True) -> AfterStep:
    """What comes after step number ``step`` (1 for the first) whose turn made ``calls``.

    ``can_interrupt``: whether the client can answer an approval (an AG-UI client); when it
    cannot, calls waiting for one are declined and the loop goes on as if they had run."""
    if phase == "render":
        return AfterStep((), (), tuple(calls), "end")
    server = [c for c in calls if c.name in rules.server_tools]
    client = tuple(c for c in calls if c.name not in rules.server_tools)
    approve = tuple(c for c in server if c.name in rules.confirm)
    run = tuple(c for c in server if c.name not in rules.confirm)
    decline: tuple[ToolCall, ...] = ()
    if approve and not can_interrupt:
        approve, decline = (), approve
    then: Then
    if approve:
        then = "interrupt"
    elif client:
        then = "end"
    elif run or decline:
        if rules.render and client_has_tools:
            then = "next" if step < rules.max_steps - 1 else "render"
        else:
            then = "next" if step < rules.max_steps else "max_steps"
    else:
        then = "render" if rules.render and client_has_tools else "end"
    return AfterStep(run, approve, client, then, decline)


def next_conversation(conversation: Conversation, turn: Message, results: Sequence[Message]) -> Conversation:
    """The conversation of the next step: the model's own turn, then the results of its calls."""
    return dataclasses.replace(conversation, messages=[*conversation.messages, turn, *results])


def tool_message(call: ToolCall, text: str, *, error: bool = False) -> Message:
    """The result of a server call as the model reads it (``error``: the call failed)."""
    return Message("tool", [TextPart(text)], tool_call_id=call.id, name=call.name, is_error=error)


def refusal(call: ToolCall) -> Message:
    """What the model reads for a call the user declined."""
    return tool_message(call, f"The user declined to run {call.name}; it was not run.", error=True)


def unapprovable(call: ToolCall) -> Message:
    """What the model reads for a call that needs an approval this client cannot give."""
    return tool_message(call, f"{call.name} needs the user's approval, which this client cannot give; "
                              "it was not run.", error=True)


# -- approvals (confirm) -----------------------------------------------------------------------


def interrupt_outcome(calls: Sequence[ToolCall]) -> dict[str, Any]:
    """``RUN_FINISHED.outcome``: the run waits for the user's approval of ``calls`` (AG-UI 1.0)."""
    return {"type": "interrupt", "interrupts": [
        {"id": APPROVAL_PREFIX + call.id, "reason": APPROVAL_REASON, "toolCallId": call.id,
         "message": f"Run {call.name} with {call.arguments}?"} for call in calls]}


@dataclass(frozen=True, slots=True)
class Resume:
    """One AG-UI ``resume`` entry: the answer to an interrupt."""

    interrupt_id: str
    approved: bool


def resumed_calls(conversation: Conversation, resume: Sequence[Resume],
                  confirm: Collection[str]) -> list[tuple[ToolCall, bool]]:
    """The approval-waiting calls the ``resume`` entries answer, each with whether it was approved.

    A call is found in the client's history (the assistant turn that made it); one that already
    has a result there, or is not a tool waiting for approval, is skipped, so an approval runs
    its call once.  An entry that names no such call is refused (422).
    """
    answered = {m.tool_call_id for m in conversation.messages if m.role == "tool"}
    calls = {c.id: c for m in conversation.messages if m.role == "assistant" for c in m.tool_calls}
    out: list[tuple[ToolCall, bool]] = []
    for i, entry in enumerate(resume):
        if not entry.interrupt_id.startswith(APPROVAL_PREFIX):
            raise InboundError(422, "invalid_request", f"resume[{i}].interruptId: {entry.interrupt_id!r} is not an "
                               "interrupt this route made")
        call = calls.get(entry.interrupt_id[len(APPROVAL_PREFIX):])
        if call is None or call.name not in confirm:
            raise InboundError(422, "invalid_request", f"resume[{i}].interruptId: no call waiting for approval "
                               f"has the id {entry.interrupt_id!r} in messages")
        if call.id not in answered:
            out.append((call, entry.approved))
    return out


def with_results(conversation: Conversation, results: Sequence[Message]) -> Conversation:
    """The client's history with the results of resumed calls placed after the turn that made
    them (and after that turn's other results), where the provider expects them."""
    ids = {m.tool_call_id for m in results}
    messages = list(conversation.messages)
    at = len(messages)
    for index, message in enumerate(messages):
        if message.role == "assistant" and any(c.id in ids for c in message.tool_calls):
            at = index + 1
            while at < len(messages) and messages[at].role == "tool":
                at += 1
    return dataclasses.replace(conversation, messages=[*messages[:at], *results, *messages[at:]])
