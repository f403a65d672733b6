"""A tool loop driven by the official AG-UI client, per provider, reasoning on and off: what the
client sends back on turn 2 reaches the provider whole, where the provider documents it.

The official ``HttpAgent`` (``@ag-ui/client`` 1.0.0 and 0.0.59, run_loop.mjs) runs turn 1 through
the real proxy (its CLI) against a loopback upstream that answers with a recorded stream ending in
a tool call; the test's frontend appends the tool's result as a tool message; the client runs
turn 2 with what it holds, including the ``encryptedValue`` it stored on the tool calls and on
the reasoning messages (REASONING_ENCRYPTED_VALUE).  The upstream's second request is then held
field by field to the provider's documented request: the recorded ``.request.json`` where the
recordings have it, FORMATS.md's request shape where they do not (loops.py): every signature or
encrypted value present, in order, beside the call or turn it belongs to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agui_proxy.core.provider_tools import MARK

from ..support.proxy import start_proxy
from ..support.recordings import STREAMS
from ..support.upstream import SSE_HEADERS, Request, ScriptedUpstream, Status, split
from .loops import LOOPS, Loop
from .test_official_client import CLIENTS, KEY, TOKEN, official_client, run_node

pytestmark = pytest.mark.integration

CHUNK = 97  # odd-sized upstream writes: events, lines and characters cut wherever they fall


@dataclass
class LoopRun:
    loop: Loop
    result: dict[str, Any]  # run_loop.mjs's result for the loop
    requests: list[Request]  # what reached the upstream, in order

    @property
    def turn2(self) -> dict[str, Any]:
        body: dict[str, Any] = self.requests[1].json()
        return body

    def call_ids(self) -> list[str]:
        return [e["toolCallId"] for e in self.result["turns"][0]["events"] if e["type"] == "TOOL_CALL_START"]


def _spec(i: int, loop: Loop, url: str) -> dict[str, Any]:
    return {"id": loop.id, "url": f"{url}/loop/{i}", "headers": {"Authorization": f"Bearer {TOKEN}"},
            "threadId": f"thread-loop-{i}", "runIds": [f"run-{i}-1", f"run-{i}-2"],
            "messages": [{"id": "u1", "role": "user", "content": loop.user}],
            "tools": [{"name": loop.tool, "description": "A tool of the loop",
                       "parameters": {"type": "object", "properties": {}}}],
            "toolResult": loop.result, **({"followUp": loop.follow_up} if loop.follow_up else {})}


# Bedrock's endpoint is scheme, host and port (the proxy adds /model/<model>/converse-stream): its
# loop is told apart by its model, and answered in AWS's event stream.
def upstream_config(i: int, loop: Loop, url: str) -> dict[str, Any]:
    if loop.provider == "bedrock":
        return {"provider": "bedrock", "region": "us-east-1", "model": f"loop-{i}", "base_url": url, "api_key": KEY,
                "retries": 0, "body": loop.body}
    return {"provider": loop.provider, "base_url": f"{url}/loop/{i}", "api_key": KEY, "model": "test-model",
            "retries": 0, "body": loop.body}


def upstream_prefix(i: int, loop: Loop) -> str:
    return f"/model/loop-{i}/" if loop.provider == "bedrock" else f"/loop/{i}/"


def answer_headers(loop: Loop) -> dict[str, str]:
    return {"content-type": "application/vnd.amazon.eventstream"} if loop.provider == "bedrock" else SSE_HEADERS


@pytest.fixture(scope="module", params=list(CLIENTS), ids=[f"client-{v}" for v in CLIENTS])
def loops(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LoopRun]]:
    version: str = request.param
    if not STREAMS.is_dir():
        pytest.skip(f"the shared provider recordings are not at {STREAMS} (set AGUI_PROXY_SHARED)")
    node = official_client()
    tmp: Path = tmp_path_factory.mktemp("loops")
    with ScriptedUpstream() as upstream:
        for i, loop in enumerate(LOOPS):
            for answer in (loop.turn1(), loop.turn2()):
                upstream.script_at(upstream_prefix(i, loop), Status(200, answer_headers(loop)), split(answer, CHUNK))
        config = {
            "auth": {"bearer_tokens": [TOKEN]},
            "upstreams": {f"loop{i}": upstream_config(i, loop, upstream.url) for i, loop in enumerate(LOOPS)},
            "routes": [{"path": f"/loop/{i}", "upstream": f"loop{i}", "reasoning": loop.reasoning}
                       for i, loop in enumerate(LOOPS)],
        }
        with start_proxy(tmp, config) as proxy:
            specs = [_spec(i, loop, proxy.url) for i, loop in enumerate(LOOPS)]
            results = {r["id"]: r for r in run_node(node, "run_loop.mjs", tmp, specs, version)}
        assert {r["clientVersion"] for r in results.values()} == {version}
        runs = {loop.id: LoopRun(loop, results[loop.id],
                                 [r for r in upstream.requests if r.path.startswith(upstream_prefix(i, loop))])
                for i, loop in enumerate(LOOPS)}
        assert upstream.unscripted == [], [r.target for r in upstream.unscripted]
    yield runs


def canonical(value: Any) -> Any:
    """The value with each ``arguments`` JSON text parsed: a recorder's SDK re-serialises the
    arguments the model streamed (``{"a": 1}`` for ``{"a":1}``), the proxy sends them as streamed."""
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: json.loads(v) if k == "arguments" and isinstance(v, str) else canonical(v)
                for k, v in value.items()}
    return value


@pytest.mark.parametrize("loop", [pytest.param(loop, id=loop.id) for loop in LOOPS])
def test_turn_two_carries_what_the_provider_documents(loops: dict[str, LoopRun], loop: Loop) -> None:
    run = loops[loop.id]
    for number, turn in enumerate(run.result["turns"], 1):
        assert turn["error"] is None, f"turn {number}: the official client failed: {turn['error']}"
        assert turn["events"][-1]["type"] == "RUN_FINISHED", f"turn {number} ended {turn['events'][-1]}"
    assert not [c["text"] for c in run.result["console"]], "the client wrote to the console"
    assert len(run.requests) == 2
    expected = loop.expect(loop, run.call_ids())
    sent = run.turn2
    assert canonical(sent[loop.field]) == canonical(expected[loop.field])
    first = run.requests[0].json()
    assert sent[loop.field][:len(first[loop.field])] == first[loop.field], "turn 2 does not extend turn 1"
    for key, value in loop.body.items():
        assert sent[key] == value, f"the upstream's {key} did not reach turn 2"


def test_the_recorded_requests_are_the_expectation_where_they_exist() -> None:
    """Loops with a recorded second request compare with it, not with a shape written here."""
    recorded = [loop for loop in LOOPS if loop.recorded]
    assert {loop.provider for loop in recorded} == {"openai-chat", "openai-responses", "anthropic", "gemini"}
    for loop in recorded:
        assert (STREAMS / loop.recorded).is_file() or not STREAMS.is_dir(), loop.recorded


def test_every_signature_of_turn_one_is_in_turn_two(loops: dict[str, LoopRun]) -> None:
    """Each value the proxy emitted (REASONING_ENCRYPTED_VALUE) reached the upstream on turn 2,
    in the order it was emitted, and the client kept it where the proxy put it."""
    for loop_id, run in loops.items():
        events = run.result["turns"][0]["events"]
        # The marks of the provider's own calls (core/provider_tools.py) go back as what they
        # carry, where the provider needs it: their loops' own test holds turn 2 to that.
        emitted = [e["encryptedValue"] for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"
                   and not e["encryptedValue"].startswith(MARK)]
        sent = json.dumps(run.turn2[run.loop.field])
        positions = [sent.find(json.dumps(value)[1:-1]) for value in emitted]
        assert all(p >= 0 for p in positions), f"{loop_id}: a value the proxy emitted did not come back"
        assert positions == sorted(positions), f"{loop_id}: the values came back out of order"
        stored = [m.get("encryptedValue") for m in run.result["afterTurn1"] if m.get("encryptedValue")]
        stored += [c["encryptedValue"] for m in run.result["afterTurn1"] for c in m.get("toolCalls") or []
                   if c.get("encryptedValue") and not c["encryptedValue"].startswith(MARK)]
        assert sorted(stored) == sorted(emitted), f"{loop_id}: the client did not keep every value"
        assert bool(emitted) == run.loop.signed, f"{loop_id}: turn 1 emitted {len(emitted)} values"


def test_after_the_providers_own_tools_the_client_keeps_their_results_and_marks(loops: dict[str, LoopRun]) -> None:
    """Turn 1 of each follow-up loop: the client holds each provider-run call with its mark and
    its result as a tool message, and the answer's citations in the message's metadata."""
    for loop_id, run in loops.items():
        if run.loop.follow_up is None:
            continue
        after = run.result["afterTurn1"]
        calls = [c for m in after for c in m.get("toolCalls") or ()]
        assert all(c.get("encryptedValue", "").startswith(MARK) for c in calls), loop_id
        assert {m["toolCallId"] for m in after if m["role"] == "tool"} == {c["id"] for c in calls}, loop_id
        cited = [m for m in after if m["role"] == "assistant" and (m.get("metadata") or {}).get("citations")]
        assert bool(cited) == (loop_id != "gemini-code-execution"), loop_id
        assert bool(calls) == (loop_id not in ("gemini-grounding", "openai-chat-search-annotations")), loop_id


def test_reasoning_off_keeps_the_calls_signatures_and_hides_the_reasoning(loops: dict[str, LoopRun]) -> None:
    """With the route's ``reasoning: false`` the client sees no reasoning, but Gemini 3's call
    signatures still go out and come back (the loop's own test holds turn 2 to the recording)."""
    off = loops["gemini-3-signatures-reasoning-off"]
    kinds = {e["type"] for e in off.result["turns"][0]["events"]}
    assert "REASONING_ENCRYPTED_VALUE" in kinds
    assert not kinds & {"REASONING_START", "REASONING_MESSAGE_START", "REASONING_MESSAGE_CONTENT"}
