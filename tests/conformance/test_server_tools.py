"""Server-side tools under the official AG-UI client, on every provider format: one run, two steps.

The provider loops of test_multi_turn.py, with the tool run by the proxy instead of the frontend:
the tool is a real MCP server's (built with the SDK, over Streamable HTTP on loopback), the route
lists it in ``server_tools``, and the official ``HttpAgent`` (1.0.0 and 0.0.59) sends one
``RunAgentInput``.  The proxy streams turn 1 (the recorded stream ending in the call), runs the
call on the MCP server, streams ``TOOL_CALL_RESULT``, and sends turn 2 itself, all inside one run.
Turn 2's request must be what the provider documents, field by field: the very expectation the
client-driven loop is held to (loops.py), since the proxy must send back what a client would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.chat_steps import calls, text
from ..support.mcp_server import MCPHTTPServer, wait_tools_ready
from ..support.proxy import start_proxy
from ..support.recordings import STREAMS
from ..support.upstream import Request, ScriptedUpstream, Status, split, sse_response
from .loops import LOOPS, Loop
from .test_multi_turn import answer_headers, canonical, upstream_config, upstream_prefix
from .test_official_client import CLIENTS, KEY, TOKEN, official_client, run_node

pytestmark = pytest.mark.integration

# The loops whose turn 1 ends in a call of the loop's tool: the provider-tool loops end theirs in an
# answer, after the provider's own tools, with nothing for the proxy to run.
TOOL_LOOPS = [loop for loop in LOOPS if loop.follow_up is None]

CHUNK = 97
DELETE = json.dumps({"order_id": "42"})

# Runs beyond the provider loops, Chat Completions each: (id, route, upstream answers, messages, resume).
EXTRA = [
    ("confirm", "/confirm", [calls(("call_d", "delete_order", {"order_id": "42"}))],
     [{"id": "u1", "role": "user", "content": "Delete order 42."}], None),
    ("confirm-resumed", "/confirm", [text("Order 42 is deleted.")],
     [{"id": "u1", "role": "user", "content": "Delete order 42."},
      {"id": "a1", "role": "assistant", "toolCalls": [
          {"id": "call_d", "type": "function", "function": {"name": "delete_order", "arguments": DELETE}}]}],
     [{"interruptId": "approval:call_d", "status": "resolved"}]),
    ("failing", "/failing", [calls(("call_f", "fail_always", {})), text("The CRM is down.")],
     [{"id": "u1", "role": "user", "content": "Look it up."}], None),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[dict[str, Any], list[Request]]]]:
    """(the client's result, the upstream's two requests) by ``<client version>/<loop id>``."""
    if not STREAMS.is_dir():
        pytest.skip(f"the shared provider recordings are not at {STREAMS} (set AGUI_PROXY_SHARED)")
    node = official_client()
    tmp: Path = tmp_path_factory.mktemp("server-tools")
    with MCPHTTPServer() as mcp, ScriptedUpstream() as upstream:
        for _ in CLIENTS:
            for i, loop in enumerate(TOOL_LOOPS):
                for answer in (loop.turn1(), loop.turn2()):
                    upstream.script_at(upstream_prefix(i, loop), Status(200, answer_headers(loop)),
                                       split(answer, CHUNK))
            for name, _, answers, _, _ in EXTRA:
                for steps in answers:
                    upstream.script_at(f"/extra/{name}/", sse_response(steps))
        config = {
            "auth": {"bearer_tokens": [TOKEN]},
            "mcp_servers": {"loops": {"url": mcp.url, "timeout": 10}},
            "upstreams": {f"loop{i}": upstream_config(i, loop, upstream.url) for i, loop in enumerate(TOOL_LOOPS)},
            "routes": [{"path": f"/loop/{i}", "upstream": f"loop{i}", "reasoning": loop.reasoning,
                        "server_tools": {"servers": ["loops"], "allow": [loop.tool], "max_steps": 3}}
                       for i, loop in enumerate(TOOL_LOOPS)],
        }
        for name, path, _, _, _ in EXTRA:
            config["upstreams"][name] = {"provider": "openai-chat", "base_url": f"{upstream.url}/extra/{name}",
                                         "api_key": KEY, "model": "test-model", "retries": 0}
            if name != "confirm-resumed":
                config["routes"].append({"path": path, "upstream": name, "server_tools": {
                    "servers": ["loops"], "allow": ["delete_order", "fail_always"], "confirm": ["delete_order"]}})
        config["routes"].append({"path": "/confirm-resumed", "upstream": "confirm-resumed", "server_tools": {
            "servers": ["loops"], "allow": ["delete_order"], "confirm": ["delete_order"]}})
        with start_proxy(tmp, config) as proxy:
            wait_tools_ready(proxy)
            out: dict[str, tuple[dict[str, Any], list[Request]]] = {}
            for version in CLIENTS:
                specs = [{"id": loop.id, "url": f"{proxy.url}/loop/{i}",
                          "headers": {"Authorization": f"Bearer {TOKEN}"}, "threadId": f"thread-{i}",
                          "runId": f"run-{i}-{version}",
                          "messages": [{"id": "u1", "role": "user", "content": loop.user}]}
                         for i, loop in enumerate(TOOL_LOOPS)]
                specs += [{"id": name, "url": f"{proxy.url}{'/confirm-resumed' if resume else path}",
                           "headers": {"Authorization": f"Bearer {TOKEN}"}, "threadId": f"thread-{name}",
                           "runId": f"run-{name}-{version}", "messages": messages,
                           **({"resume": resume} if resume else {})}
                          for name, path, _, messages, resume in EXTRA]
                for result in run_node(node, "run_client.mjs", tmp, specs, version):
                    out[f"{version}/{result['id']}"] = (result, [])
            for name, _, answers, _, _ in EXTRA:
                seen = [r for r in upstream.requests if r.path.startswith(f"/extra/{name}/")]
                for n, version in enumerate(CLIENTS):
                    out[f"{version}/{name}"][1].extend(seen[len(answers) * n:len(answers) * (n + 1)])
            for i, loop in enumerate(TOOL_LOOPS):
                seen = [r for r in upstream.requests if r.path.startswith(upstream_prefix(i, loop))]
                assert len(seen) == 2 * len(CLIENTS), f"{loop.id}: {len(seen)} upstream requests"
                for n, version in enumerate(CLIENTS):
                    out[f"{version}/{loop.id}"][1].extend(seen[2 * n:2 * n + 2])
            assert upstream.unscripted == [], [r.target for r in upstream.unscripted]
        yield out


CASES = [pytest.param(f"{version}/{loop.id}", loop, id=f"client-{version}-{loop.id}")
         for version in CLIENTS for loop in TOOL_LOOPS]


def _tool_names(body: dict[str, Any]) -> list[str]:
    names = []
    for tool in body.get("tools", []):
        for declaration in tool.get("functionDeclarations", [tool]):
            names.append(declaration.get("name") or declaration.get("function", {}).get("name"))
    for tool in body.get("toolConfig", {}).get("tools", []):  # Bedrock's Converse
        names.append(tool.get("toolSpec", {}).get("name"))
    return names


@pytest.mark.parametrize(("key", "loop"), CASES)
def test_one_run_two_steps_and_the_second_request_is_the_providers(
        runs: dict[str, tuple[dict[str, Any], list[Request]]], key: str, loop: Loop) -> None:
    result, (first, second) = runs[key]
    assert result["error"] is None, f"the official client failed: {result['error']}"
    assert not [c["text"] for c in result["console"]], "the client wrote to the console"
    events = result["events"]
    types = [e["type"] for e in events]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_FINISHED"
    assert types.count("RUN_STARTED") == 1 and types.count("RUN_FINISHED") == 1
    assert types.count("STEP_STARTED") == types.count("STEP_FINISHED") == 2
    call_ids = [e["toolCallId"] for e in events if e["type"] == "TOOL_CALL_START"]
    results = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    assert [(r["toolCallId"], r["content"]) for r in results] == [(call_ids[0], loop.result)]
    # The result follows its call's end, and the second step follows the result.
    assert types.index("TOOL_CALL_END") < types.index("TOOL_CALL_RESULT") < len(types) - 1 - types[::-1].index(
        "STEP_STARTED")
    # The client ends holding the result as a tool message, answering the call it made.
    tool_messages = [m for m in result["messages"] if m["role"] == "tool"]
    assert [(m["toolCallId"], m["content"]) for m in tool_messages] == [(call_ids[0], loop.result)]
    # The first request offers the server tool; the second carries the turn and the result, as documented.
    assert loop.tool in _tool_names(first.json())
    expected = loop.expect(loop, call_ids)
    sent = second.json()
    assert canonical(sent[loop.field]) == canonical(expected[loop.field])
    assert sent[loop.field][:len(first.json()[loop.field])] == first.json()[loop.field]
    for name, value in loop.body.items():
        assert sent[name] == value, f"the upstream's {name} did not reach the second step"


def _accepted(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert result["error"] is None, f"the official client failed: {result['error']}"
    assert not [c["text"] for c in result["console"]], "the client wrote to the console"
    events: list[dict[str, Any]] = result["events"]
    assert events[-1]["type"] == "RUN_FINISHED"
    return events


@pytest.mark.parametrize("version", list(CLIENTS))
def test_an_approval_interrupts_then_its_resume_runs_the_tool(
        runs: dict[str, tuple[dict[str, Any], list[Request]]], version: str) -> None:
    interrupted, _ = runs[f"{version}/confirm"]
    events = _accepted(interrupted)
    assert events[-1]["outcome"]["interrupts"][0]["toolCallId"] == "call_d"
    assert not [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    resumed, (request,) = runs[f"{version}/confirm-resumed"]
    events = _accepted(resumed)
    (result,) = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    assert result["toolCallId"] == "call_d" and result["content"].startswith("order 42 deleted")
    assert [m["content"] for m in resumed["messages"] if m["role"] == "tool"] == [result["content"]]
    tool_turns = [m for m in request.json()["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_turns] == [("call_d", result["content"])]


@pytest.mark.parametrize("version", list(CLIENTS))
def test_a_failing_tool_is_a_result_the_client_keeps(
        runs: dict[str, tuple[dict[str, Any], list[Request]]], version: str) -> None:
    result, requests = runs[f"{version}/failing"]
    events = _accepted(result)
    (failed,) = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    assert failed["content"].startswith("Error: ")
    assert [m["content"] for m in result["messages"] if m["role"] == "tool"] == [failed["content"]]
    assert len(requests) == 2
