"""The loop's pure parts, driven directly: a step's run (its events recorded and filtered), the
decision after a step, the next step's conversation, approvals, and the render pass's tools and
tool choice in every provider's own form."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agui_proxy.core import events as ev
from agui_proxy.core.conversation import Conversation, Message, TextPart, Tool, ToolCall, ToolChoice
from agui_proxy.core.provider_tools import provider_tool_value
from agui_proxy.core.steps import StepRun, summed_usage
from agui_proxy.core.tool_loop import (
    LoopRules,
    Resume,
    after_step,
    check_names,
    interrupt_outcome,
    next_conversation,
    offered,
    resumed_calls,
    tool_message,
    with_results,
)
from agui_proxy.errors import InboundError

from ..support.harness import provider

SEARCH = Tool("search", "Search", {"type": "object", "properties": {"q": {"type": "string"}}})
DELETE = Tool("delete", "Delete", {"type": "object", "properties": {}})
RENDER = Tool("render", "Render a screen", {"type": "object", "properties": {}})
RULES = LoopRules({"search": SEARCH, "delete": DELETE}, frozenset({"delete"}), max_steps=3)


def call(call_id: str, name: str, arguments: str = "{}") -> ToolCall:
    return ToolCall(call_id, name, arguments)


def step_run(**options: Any) -> StepRun:
    settings: dict[str, Any] = {"server_tools": {"search"}, "show_reasoning": True, "hide_server_tools": False,
                                "step_events": True, **options}
    ids = iter(range(1000))
    return StepRun("t", "r", id_factory=lambda prefix: f"{prefix}{next(ids)}", **settings)


# -- a step's run --------------------------------------------------------------------------------


def test_a_step_records_the_turn_the_client_would_send_back() -> None:
    run = step_run()
    run.take()
    run.begin_step(1)
    run.reasoning("thinking", item_id="rs_1")
    run.reasoning_signature("sig-1")
    run.text("Let me look.")
    run.tool_start(0, "call_1", "search")
    run.tool_args(0, '{"q":')
    run.tool_args(0, '"ada"}')
    run.tool_signature(0, "call-sig")
    run.finish(stop_reason="tool_use", usage=ev.TokenUsage(input_tokens=3, output_tokens=2, total_tokens=5))
    kinds = [e.type for e in run.take()]
    assert kinds[0] == "STEP_STARTED" and "RUN_FINISHED" not in kinds
    assert run.ended and not run.over
    turn = run.recorder.turn()
    assert turn.text == "Let me look."
    assert [(c.id, c.name, c.arguments, c.signature) for c in turn.tool_calls] == [
        ("call_1", "search", '{"q":"ada"}', "call-sig")]
    assert [(r.text, r.signature, r.id) for r in turn.reasoning] == [("thinking", "sig-1", "rs_1")]


def test_a_provider_tool_and_a_server_tool_share_one_result_event_and_the_turn_keeps_them_apart() -> None:
    run = step_run()
    run.take()
    run.begin_step(1)
    run.provider_tool_start(0, "srvtoolu_1", "web_search")
    run.tool_args(0, '{"query": "ada"}')
    value = provider_tool_value("anthropic", [{"type": "web_search_tool_result"}])
    run.tool_result("srvtoolu_1", '{"found": 2}', value)
    run.tool_start(1, "call_s", "search")
    run.finish(stop_reason="tool_use")
    events = run.take()
    turn = run.recorder.turn()
    run.end_step()
    run.tool_result("call_s", "Ada (id 7)", server=True)
    results = [e for e in events + run.take() if isinstance(e, ev.ToolCallResult)]
    assert [(e.tool_call_id, e.content, e.role) for e in results] == [
        ("srvtoolu_1", '{"found": 2}', "tool"), ("call_s", "Ada (id 7)", "tool")]
    # The provider's call goes back as the provider's own, not as a call the loop would run or hand over.
    assert [c.id for c in turn.tool_calls] == ["call_s"]
    assert [(c.id, c.name, c.family) for c in turn.provider_calls] == [("srvtoolu_1", "web_search", "anthropic")]
    assert after_step(turn.tool_calls, RULES, step=1, phase="data", client_has_tools=False).then == "next"


def test_a_run_that_hides_provider_tools_still_gets_its_server_tools_results() -> None:
    run = step_run(provider_tools=False)
    run.take()
    run.begin_step(1)
    assert run.provider_tool_start(0, "srvtoolu_1", "web_search") is None
    run.tool_result("srvtoolu_1", "{}", provider_tool_value("anthropic"))
    run.tool_start(1, "call_s", "search")
    run.finish(stop_reason="tool_use")
    run.end_step()
    run.tool_result("call_s", "found", server=True)
    results = [e.tool_call_id for e in run.take() if isinstance(e, ev.ToolCallResult)]
    assert results == ["call_s"]
    run.finish_run()
    run.tool_result("call_s", "late", server=True)  # nothing after the run's end
    assert not [e for e in run.take() if isinstance(e, ev.ToolCallResult)]


def test_the_run_ends_once_with_every_steps_usage() -> None:
    run = step_run()
    for number, tokens in ((1, 5), (2, 7)):
        run.begin_step(number)
        run.text("x")
        run.finish(stop_reason="end_turn", usage=ev.TokenUsage(input_tokens=tokens, output_tokens=1,
                                                               total_tokens=tokens + 1))
        run.end_step()
    run.finish_run()
    events = run.take()
    kinds = [e.type for e in events]
    assert kinds.count("RUN_STARTED") == kinds.count("RUN_FINISHED") == 1
    assert kinds.count("STEP_STARTED") == kinds.count("STEP_FINISHED") == 2
    finished = events[-1]
    assert isinstance(finished, ev.RunFinished)
    assert [u.total_tokens for u in finished.usage or ()] == [6, 8]
    assert run.usage == ev.TokenUsage(input_tokens=12, output_tokens=2, total_tokens=14)
    assert run.over


def test_branderux_sees_no_server_tool_and_no_reasoning_when_hidden() -> None:
    run = step_run(hide_server_tools=True, show_reasoning=False, step_events=False)
    run.begin_step(1)
    run.reasoning("hmm")
    run.reasoning_signature("sig")
    run.tool_start(0, "call_s", "search")
    run.tool_args(0, "{}")
    run.tool_signature(0, "s-sig")
    run.tool_start(1, "call_c", "show")
    run.finish(stop_reason="tool_use")
    run.end_step()
    run.tool_result("call_s", "found", server=True)
    shown = run.take()
    assert [e.type for e in shown] == ["RUN_STARTED", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END"]
    assert {e.tool_call_id for e in shown[1:]} == {"call_c"}  # type: ignore[union-attr]
    # Recorded all the same: the next step needs the reasoning's signature.
    assert run.recorder.turn().reasoning[0].signature == "sig"


def test_a_failure_closes_the_open_step_then_ends_the_run() -> None:
    run = step_run()
    run.begin_step(1)
    run.text("partial")
    run.fail("boom", "max_steps")
    kinds = [e.type for e in run.take()]
    assert kinds[-3:] == ["TEXT_MESSAGE_END", "STEP_FINISHED", "RUN_ERROR"]
    assert run.over


def test_summed_usage_adds_what_each_step_reported() -> None:
    assert summed_usage(()) is None
    one = ev.TokenUsage(provider="openai", input_tokens=1, output_tokens=2, reasoning_tokens=None)
    two = ev.TokenUsage(provider="openai", input_tokens=3, output_tokens=None, reasoning_tokens=4)
    assert summed_usage((one, two)) == ev.TokenUsage(provider="openai", input_tokens=4, output_tokens=2,
                                                      reasoning_tokens=4)


# -- decisions --------------------------------------------------------------------------------


@pytest.mark.parametrize(("calls", "step", "then", "run", "approve", "client"), [
    ([], 1, "end", [], [], []),
    ([call("a", "search")], 1, "next", ["a"], [], []),
    ([call("a", "search")], 3, "max_steps", ["a"], [], []),
    ([call("a", "search"), call("b", "show")], 1, "end", ["a"], [], ["b"]),
    ([call("a", "search"), call("d", "delete")], 1, "interrupt", ["a"], ["d"], []),
    ([call("b", "show")], 1, "end", [], [], ["b"]),
], ids=["text", "server", "past-max-steps", "both-kinds", "approval", "client"])
def test_after_a_step(calls: list[ToolCall], step: int, then: str, run: list[str], approve: list[str],
                      client: list[str]) -> None:
    decision = after_step(calls, RULES, step=step, phase="data", client_has_tools=True)
    assert decision.then == then
    assert [c.id for c in decision.run] == run
    assert [c.id for c in decision.approve] == approve
    assert [c.id for c in decision.client] == client


def test_a_client_that_cannot_approve_has_the_calls_declined_and_goes_on() -> None:
    decision = after_step([call("a", "search"), call("d", "delete")], RULES, step=1, phase="data",
                          client_has_tools=False, can_interrupt=False)
    assert decision.then == "next" and decision.approve == ()
    assert [c.id for c in decision.run] == ["a"] and [c.id for c in decision.decline] == ["d"]
    only = after_step([call("d", "delete")], RULES, step=3, phase="data", client_has_tools=False, can_interrupt=False)
    assert only.then == "max_steps" and [c.id for c in only.decline] == ["d"]


def test_with_render_the_data_steps_leave_the_last_step_to_the_render() -> None:
    rules = LoopRules({"search": SEARCH}, max_steps=3, render=True)
    calling = [call("a", "search")]
    assert after_step(calling, rules, step=1, phase="data", client_has_tools=True).then == "next"
    assert after_step(calling, rules, step=2, phase="data", client_has_tools=True).then == "render"
    assert after_step([], rules, step=1, phase="data", client_has_tools=True).then == "render"
    assert after_step([], rules, step=1, phase="data", client_has_tools=False).then == "end"
    rendered = after_step([call("r", "render")], rules, step=2, phase="render", client_has_tools=True)
    assert rendered.then == "end" and [c.id for c in rendered.client] == ["r"]


def test_the_next_step_carries_the_turn_then_the_results() -> None:
    conversation = Conversation(messages=[Message("user", [TextPart("hi")])])
    turn = Message("assistant", tool_calls=[call("a", "search", '{"q":"x"}')])
    result = tool_message(turn.tool_calls[0], "found")
    following = next_conversation(conversation, turn, [result])
    assert [m.role for m in following.messages] == ["user", "assistant", "tool"]
    assert following.messages[2].tool_call_id == "a" and following.messages[2].name == "search"
    assert len(conversation.messages) == 1  # the client's conversation is not changed


def test_a_client_tool_named_like_a_server_tool_is_refused() -> None:
    with pytest.raises(InboundError) as refused:
        check_names(Conversation(tools=[Tool("show"), Tool("search")]), RULES)
    assert refused.value.status == 422 and "tools[1].name: 'search'" in refused.value.message


# -- approvals --------------------------------------------------------------------------------


def test_an_interrupt_names_the_call_and_its_resume_finds_it_again() -> None:
    waiting = call("call_d", "delete", '{"id": 7}')
    outcome = interrupt_outcome([waiting])
    (interrupt,) = outcome["interrupts"]
    assert outcome["type"] == "interrupt" and interrupt["toolCallId"] == "call_d"
    history = Conversation(messages=[Message("user", [TextPart("delete 7")]),
                                     Message("assistant", tool_calls=[call("call_s", "search"), waiting]),
                                     Message("tool", [TextPart("found")], tool_call_id="call_s")])
    found = resumed_calls(history, [Resume(interrupt["id"], True)], RULES.confirm)
    assert found == [(waiting, True)]
    placed = with_results(history, [tool_message(waiting, "deleted")])
    assert [m.tool_call_id for m in placed.messages if m.role == "tool"] == ["call_s", "call_d"]
    # Answered already (the client holds its result): not run again.
    answered = Conversation(messages=[*placed.messages])
    assert resumed_calls(answered, [Resume(interrupt["id"], True)], RULES.confirm) == []


@pytest.mark.parametrize("interrupt_id", ["approval:nope", "other:call_s", "approval:call_s"])
def test_a_resume_that_answers_no_waiting_call_is_refused(interrupt_id: str) -> None:
    history = Conversation(messages=[Message("assistant", tool_calls=[call("call_s", "search")])])
    with pytest.raises(InboundError) as refused:
        resumed_calls(history, [Resume(interrupt_id, True)], RULES.confirm)
    assert "resume[0].interruptId" in refused.value.message


# -- what each step offers, in each provider's form ---------------------------------------------------


def _tools_and_choice(name: str, conversation: Conversation) -> tuple[list[str], Any]:
    body = json.loads(provider(name).build_request(conversation).body)  # type: ignore[union-attr]
    if name == "gemini":
        names = [d["name"] for t in body.get("tools", []) for d in t["functionDeclarations"]]
        return names, body.get("toolConfig", {}).get("functionCallingConfig")
    if name == "bedrock":
        config = body.get("toolConfig", {})
        return [t["toolSpec"]["name"] for t in config.get("tools", [])], config.get("toolChoice")
    names = [t.get("name") or t["function"]["name"] for t in body.get("tools", [])]
    return names, body.get("tool_choice")


REQUIRED = {"openai-chat": "required", "openai-responses": "required", "anthropic": {"type": "any"},
            "gemini": {"mode": "ANY"}, "bedrock": {"any": {}}}


@pytest.mark.parametrize("name", list(REQUIRED))
def test_the_render_pass_offers_data_tools_then_forces_a_client_tool(name: str) -> None:
    conversation = Conversation(messages=[Message("user", [TextPart("show Ada")])], tools=[RENDER],
                                tool_choice=ToolChoice("auto"))
    rules = LoopRules({"search": SEARCH}, render=True)
    assert _tools_and_choice(name, offered(conversation, rules, "data")) == (["search"], None)
    assert _tools_and_choice(name, offered(conversation, rules, "render")) == (["render"], REQUIRED[name])
    # Without render: the client's tools first, then the server's, and the client's own choice.
    plain = LoopRules({"search": SEARCH})
    names, _ = _tools_and_choice(name, offered(conversation, plain, "data"))
    assert names == ["render", "search"]
