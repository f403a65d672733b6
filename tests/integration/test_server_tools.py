"""Server-side tools through the real proxy (its CLI): what each body kind sees, failures,
``max_steps``, quotas and usage over every step, the render pass, approvals, a client that leaves.

One proxy for the module, in front of a scripted Chat Completions upstream, with three MCP
servers built with the official SDK: ``crm`` over Streamable HTTP on loopback, ``files`` over
stdio (started and owned by the proxy), and ``gone``, a port nobody listens on (a server that
is down).  Each route shows one way to use them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from ..support.agui_check import assert_valid_run, parse_frames
from ..support.chat_steps import MODEL, calls, text
from ..support.mcp_server import STDIO_COMMAND, MCPHTTPServer, readyz
from ..support.metrics_text import Samples
from ..support.proxy import (
    ProxyProcess,
    ProxySetup,
    RawStream,
    Reply,
    eventually,
    free_port,
    post,
    run_cli,
    sse_events,
    wait_for_output,
    write_config,
)
from ..support.upstream import ScriptedUpstream, sse_response
from .test_tracing_otlp import Collector, attributes

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "sk-test-SECRET-server-tools-0123"
MCP_TOKEN = "mcp-token-SECRET-77aa11bb22cc"
TOKEN = "backend-token-SECRET-0123456789"  # a named bearer token: the runs' identity is "token:backend"
USER = [{"role": "user", "content": "Find Ada, then answer."}]


@pytest.fixture(scope="module")
def crm() -> Iterator[MCPHTTPServer]:
    with MCPHTTPServer() as server:
        yield server


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.close()


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream, crm: MCPHTTPServer, collector: Collector) -> ProxySetup:
    def route(path: str, **tools: Any) -> dict[str, Any]:
        return {"path": path, "upstream": "openai", "server_tools": {"servers": ["crm"], **tools}}

    config = {
        "auth": {"bearer_tokens": [{"token": "${TOKEN}", "name": "backend"}]},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "${KEY}",
                                 "model": MODEL, "retries": 0}},
        "mcp_servers": {
            # A timeout that no call here comes near (10 MB results take a while on a busy machine)...
            "crm": {"url": crm.url, "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}, "timeout": 20,
                    "forward_identity": {"header": "x-user-id", "meta": "user"}},
            # ...and the same server under another name, with one that a hanging call passes.
            "crm_short": {"url": crm.url, "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}, "timeout": 1.5},
            "files": {"command": STDIO_COMMAND, "timeout": 5},
            "gone": {"url": f"http://127.0.0.1:{free_port()}/mcp", "connect_timeout": 1},
        },
        "quotas": {"per_identity": {"tokens_per_day": 1_000_000}},
        "tracing": {"enabled": True, "endpoint": collector.url},
        "routes": [
            route("/agent", allow=["search_customers", "fail_always", "hang", "big", "whoami"], max_steps=3),
            route("/render", allow=["search_customers"], render="required"),
            {"path": "/short", "upstream": "openai", "server_tools": {"servers": ["crm_short"], "allow": ["hang"]}},
            route("/confirm", allow=["search_customers", "delete_order"], confirm=["delete_order"]),
            {"path": "/files", "upstream": "openai", "server_tools": {"servers": ["files"],
                                                                      "allow": ["search_customers", "crash"]}},
            {"path": "/gone", "upstream": "openai", "server_tools": {"servers": ["gone", "crm"],
                                                                     "allow": ["search_customers"]}},
            {"path": "/plain", "upstream": "openai"},
            {"path": "/resumable", "upstream": "openai", "resumable": {"linger": 5},
             "server_tools": {"servers": ["crm"], "allow": ["whoami"]}},
        ],
    }
    # The batch processor's delay, shortened so that the export comes while a test waits.
    return ProxySetup(config, env={"KEY": KEY, "MCP_TOKEN": MCP_TOKEN, "TOKEN": TOKEN, "OTEL_BSP_SCHEDULE_DELAY": "50"})


@pytest.fixture(scope="module")
def tools_proxy(proxy: ProxyProcess) -> ProxyProcess:
    eventually(lambda: readyz(proxy)["mcp_servers"],
               lambda servers: all(servers[name]["state"] == "connected" for name in ("crm", "crm_short", "files")),
               "crm and files connected", 30)
    return proxy


def agui(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    wired = [{"id": f"m{i}", **m} for i, m in enumerate(messages)]
    return {"threadId": "t1", "runId": "r1", "messages": wired, "tools": [], **extra}


def ask(proxy: ProxyProcess, path: str, body: dict[str, Any], **headers: str) -> Reply:
    return post(f"{proxy.url}{path}", body, headers={"authorization": f"Bearer {TOKEN}", **headers})


def run(proxy: ProxyProcess, path: str, body: dict[str, Any], *, done: bool = False) -> list[dict[str, Any]]:
    return sse_events(ask(proxy, path, body), KEY, MCP_TOKEN, TOKEN, done=done)


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def tool_messages(request_body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["tool_call_id"], m["content"]) for m in request_body["messages"] if m["role"] == "tool"]


# -- the loop on each body kind -------------------------------------------------------------------


def test_agui_body_sees_every_step_and_the_result(tools_proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(calls(("call_1", "search_customers", {"query": "Ada"}))))
    up.script(sse_response(text("Ada Lovelace is customer 7.")))
    events = run(tools_proxy, "/agent", agui(USER))
    kinds = [e["type"] for e in events]
    assert kinds == ["RUN_STARTED", "STEP_STARTED", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END",
                     "STEP_FINISHED", "TOOL_CALL_RESULT", "STEP_STARTED", "TEXT_MESSAGE_START",
                     "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "STEP_FINISHED", "RUN_FINISHED"]
    (result,) = of(events, "TOOL_CALL_RESULT")
    assert result["toolCallId"] == "call_1" and result["role"] == "tool"
    assert result["content"] == "2 customers match 'Ada': Ada Lovelace (id 7), Alan Turing (id 9)"
    first, second = (r.json() for r in up.requests)
    # The allowed tools, in the order the server lists them.
    assert [t["function"]["name"] for t in first["tools"]] == ["search_customers", "whoami", "fail_always", "hang",
                                                               "big"]
    assert second["messages"][1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "search_customers",
                                                          "arguments": "{\"query\": \"Ada\"}"}}]}
    assert tool_messages(second) == [("call_1", result["content"])]
    # Every step's usage, listed; the run's identity is charged their sum (test_quotas_... below).
    assert [u["totalTokens"] for u in of(events, "RUN_FINISHED")[0]["usage"]] == [15, 23]


def test_tool_calls_are_counted_logged_and_traced(tools_proxy: ProxyProcess, up: ScriptedUpstream,
                                                  collector: Collector) -> None:
    up.script(sse_response(calls(("call_m", "search_customers", {"query": "Ada"}), ("call_f", "fail_always", {}))))
    up.script(sse_response(text("Found Ada.")))
    sse_events(ask(tools_proxy, "/agent", agui(USER), **{"x-request-id": "tools-1"}), KEY, MCP_TOKEN,
               done=False)
    line = eventually(tools_proxy.output, lambda out: "request_id=tools-1" in out, "the access line")
    (line,) = [row for row in line.splitlines() if "request_id=tools-1" in row]
    logged = line.split("tool_calls=")[1].split()[0].strip('"')  # in the order the parallel calls ended
    assert sorted(logged.split(",")) == ["crm/fail_always:error", "crm/search_customers:ok"]
    samples = Samples(httpx.get(f"{tools_proxy.url}/metrics", timeout=5).content)
    assert (samples.get("agui_proxy_tool_calls_total", server="crm", tool="fail_always", outcome="error") or 0) >= 1
    assert (samples.get("agui_proxy_tool_calls_total", server="crm", tool="search_customers", outcome="ok")
            or 0) >= 1
    server = eventually(collector.spans, lambda spans: any(
        attributes(s).get("agui_proxy.request_id") == "tools-1" for s in spans), "the request's span", 20)
    (request_span,) = [s for s in server if attributes(s).get("agui_proxy.request_id") == "tools-1"]
    tools = eventually(collector.spans, lambda spans: len(
        [s for s in spans if s.parent_span_id == request_span.span_id and s.name.startswith("execute_tool")]) == 2,
        "two execute_tool spans", 20)
    spans = {s.name: attributes(s) for s in tools if s.parent_span_id == request_span.span_id
             and s.name.startswith("execute_tool")}
    assert spans["execute_tool search_customers"] == {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search_customers",
        "gen_ai.tool.call.id": "call_m", "agui_proxy.mcp_server": "crm", "agui_proxy.tool_outcome": "ok"}
    assert spans["execute_tool fail_always"]["error.type"] == "error"


def test_the_identity_reaches_the_tool_server_on_a_resumable_route(tools_proxy: ProxyProcess,
                                                                   up: ScriptedUpstream) -> None:
    """The user the access log names reaches the MCP server (forward_identity), and a resumable
    route runs the loop in its own driver: numbered frames, one run, the result among them."""
    up.script(sse_response(calls(("call_w", "whoami", {}))))
    up.script(sse_response(text("You are backend.")))
    reply = ask(tools_proxy, "/resumable", agui(USER, runId="resumable-1"))
    assert reply.headers["x-run-id"] == "resumable-1"
    assert reply.status == 200
    # Each frame carries its number (id: <seq>) before its data line.
    numbered = [line for line in reply.body.split(b"\n") if line.startswith(b"id: ")]
    events, _ = parse_frames(b"\n".join(line for line in reply.body.split(b"\n") if not line.startswith(b"id: ")))
    assert_valid_run(events)
    assert [int(line[4:]) for line in numbered] == list(range(1, len(events) + 1))
    (result,) = of(events, "TOOL_CALL_RESULT")
    assert result["content"] == "header=token:backend meta=token:backend"  # namespaced by its source
    assert events[-1]["type"] == "RUN_FINISHED"


def test_branderux_body_sees_only_the_answer(tools_proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(calls(("call_1", "search_customers", {"query": "Ada"}))))
    up.script(sse_response(text("Ada is customer 7.")))
    events = run(tools_proxy, "/agent", {"params": {"messages": USER}}, done=True)
    assert [e["type"] for e in events] == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT",
                                           "TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert tool_messages(up.requests[1].json())[0][0] == "call_1"


def test_client_tools_beside_server_tools_end_the_run_open(tools_proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """A step calling both kinds: the server call runs and its result streams, then the run ends
    with the client's call open for the client; no second upstream call."""
    up.script(sse_response(calls(("call_s", "search_customers", {"query": "Ada"}),
                                 ("call_c", "show_card", {"id": 7}))))
    body = agui(USER, tools=[{"name": "show_card", "description": "Show a card",
                              "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}}}])
    events = run(tools_proxy, "/agent", body)
    assert [e["toolCallId"] for e in of(events, "TOOL_CALL_START")] == ["call_s", "call_c"]
    assert [e["toolCallId"] for e in of(events, "TOOL_CALL_RESULT")] == ["call_s"]
    assert events[-1]["type"] == "RUN_FINISHED"
    offered = [t["function"]["name"] for t in up.requests[0].json()["tools"]]
    assert offered[0] == "show_card" and "search_customers" in offered


def test_a_client_tool_named_like_a_server_tool_is_refused(tools_proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    reply = ask(tools_proxy, "/agent", agui(USER, tools=[{"name": "search_customers", "description": "x"}]))
    assert reply.status == 422
    assert reply.json()["error"]["type"] == "tool_name_clash"
    assert "tools[0].name: 'search_customers'" in reply.json()["error"]["message"]


# -- failures never cut the run ---------------------------------------------------------------


@pytest.mark.parametrize(("path", "name", "arguments", "says"), [
    ("/agent", "fail_always", {}, "Error: Error executing tool fail_always"),
    ("/short", "hang", {"seconds": 30}, "Error: hang did not answer within 1.5 s"),
    ("/agent", "big", {"size": 10_000_000}, "Error: the result of big is larger than 262144 bytes and was not sent"),
    ("/agent", "no_such_tool", {}, None),
    ("/files", "crash", {}, "Error: the tool server files went away during the call"),
], ids=["fails", "hangs", "10MB", "unknown", "server-goes-away"])
def test_a_failing_call_gives_the_model_an_error_result(tools_proxy: ProxyProcess, up: ScriptedUpstream, path: str,
                                                        name: str, arguments: dict[str, Any], says: str | None) -> None:
    up.script(sse_response(calls(("call_x", name, arguments))))
    if says is None:  # a tool no server has: the model's own mistake, left open as a client call
        events = run(tools_proxy, path, agui(USER))
        assert not of(events, "TOOL_CALL_RESULT") and events[-1]["type"] == "RUN_FINISHED"
        return
    up.script(sse_response(text("Sorry, that failed.")))
    events = run(tools_proxy, path, agui(USER))
    (result,) = of(events, "TOOL_CALL_RESULT")
    assert result["content"] == says
    assert events[-1]["type"] == "RUN_FINISHED"
    assert tool_messages(up.requests[1].json()) == [("call_x", says)]
    if name == "crash":  # the stdio server the proxy owns is started again
        eventually(lambda: readyz(tools_proxy)["mcp_servers"]["files"]["state"], lambda s: s == "connected",
                   "the files server connected again", 20)


def test_a_server_that_is_down_is_reported_and_its_tools_are_not_offered(tools_proxy: ProxyProcess,
                                                                         up: ScriptedUpstream) -> None:
    gone = readyz(tools_proxy)["mcp_servers"]["gone"]
    assert gone["state"] == "connecting" and gone["error"]
    up.script(sse_response(text("Nothing to look up.")))
    events = run(tools_proxy, "/gone", agui(USER))
    assert events[-1]["type"] == "RUN_FINISHED"
    assert [t["function"]["name"] for t in up.requests[0].json()["tools"]] == ["search_customers"]  # crm's
    assert "MCP server gone:" in tools_proxy.output()


def test_past_max_steps_the_run_ends_with_its_own_code(tools_proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    for n in range(3):
        up.script(sse_response(calls((f"call_{n}", "search_customers", {"query": f"q{n}"}))))
    reply = ask(tools_proxy, "/agent", agui(USER))
    events = sse_events(reply, KEY, MCP_TOKEN, done=False)
    assert len(of(events, "TOOL_CALL_RESULT")) == 3  # every step's results went out first
    assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "max_steps"
    assert "after 3 steps" in events[-1]["message"]


def test_quotas_are_charged_for_every_step(tools_proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text("warm-up", tokens=(1, 1))))
    before = ask(tools_proxy, "/plain", agui(USER))
    left = int(before.headers["ratelimit"].split("r=")[1].split(";")[0])
    up.script(sse_response(calls(("call_1", "search_customers", {"query": "Ada"}), tokens=(100, 20))))
    up.script(sse_response(text("Done.", tokens=(150, 30))))
    run(tools_proxy, "/agent", agui(USER))
    up.script(sse_response(text("after", tokens=(1, 1))))
    after = ask(tools_proxy, "/plain", agui(USER))
    assert int(after.headers["ratelimit"].split("r=")[1].split(";")[0]) == left - 2 - 300


# -- the render pass ----------------------------------------------------------------------------


RENDER_TOOL = {"type": "function", "function": {"name": "render_screen", "description": "Render a screen",
                                                "parameters": {"type": "object", "properties": {}}}}


def test_render_required_offers_data_tools_then_forces_a_client_tool(tools_proxy: ProxyProcess,
                                                                    up: ScriptedUpstream) -> None:
    up.script(sse_response(calls(("call_1", "search_customers", {"query": "Ada"}))))
    up.script(sse_response(text("Found Ada.")))
    up.script(sse_response(calls(("call_r", "render_screen", {}))))
    body = {"params": {"messages": USER, "tools": {"openai": [RENDER_TOOL]}}}
    events = run(tools_proxy, "/render", body, done=True)
    first, data, render = (r.json() for r in up.requests)
    for step in (first, data):
        assert [t["function"]["name"] for t in step["tools"]] == ["search_customers"]
        assert "tool_choice" not in step
    assert render["tools"] == [RENDER_TOOL] and render["tool_choice"] == "required"
    # The render step sees the data (the call and its result), not the data step's own words.
    assert tool_messages(render)[0][0] == "call_1" and render["messages"][-1]["role"] == "tool"
    # The BranderUX client sees the data step's text and the screen, no server tool event.
    assert [e["toolCallName"] for e in of(events, "TOOL_CALL_START")] == ["render_screen"]
    assert not of(events, "TOOL_CALL_RESULT")


# -- approvals (confirm) -----------------------------------------------------------------------


def deletions(crm: MCPHTTPServer, order: str) -> str:
    async def count() -> str:
        async with Client(crm.url) as client:
            result = await client.call_tool("deletion_count", {"order_id": order})
            return str(result.content[0].text)  # type: ignore[union-attr]

    return asyncio.run(count())


@pytest.mark.parametrize("approved", [True, False], ids=["approved", "cancelled"])
def test_confirm_interrupts_then_the_resume_runs_it_once(tools_proxy: ProxyProcess, up: ScriptedUpstream,
                                                         crm: MCPHTTPServer, approved: bool) -> None:
    order = "17" if approved else "18"
    up.script(sse_response(calls(("call_d", "delete_order", {"order_id": order}))))
    events = run(tools_proxy, "/confirm", agui(USER))
    finished = events[-1]
    assert finished["type"] == "RUN_FINISHED"
    assert finished["outcome"] == {"type": "interrupt", "interrupts": [
        {"id": "approval:call_d", "reason": "tool_approval", "toolCallId": "call_d",
         "message": f"Run delete_order with {json.dumps({'order_id': order})}?"}]}
    assert not of(events, "TOOL_CALL_RESULT") and deletions(crm, order) == "0"
    # The client's next run: its history with the call, and its answer to the interrupt.
    history = [*USER, {"role": "assistant", "toolCalls": [
        {"id": "call_d", "type": "function",
         "function": {"name": "delete_order", "arguments": json.dumps({"order_id": order})}}]}]
    up.script(sse_response(text("Done." if approved else "Kept it.")))
    resume = [{"interruptId": "approval:call_d", "status": "resolved" if approved else "cancelled"}]
    events = run(tools_proxy, "/confirm", agui(history, resume=resume, runId="r2"))
    (result,) = of(events, "TOOL_CALL_RESULT")
    if approved:
        assert result["content"] == f"order {order} deleted (deletion number 1)"
        assert deletions(crm, order) == "1"
    else:
        assert result["content"] == "The user declined to run delete_order; it was not run."
        assert deletions(crm, order) == "0"
    assert tool_messages(up.requests[-1].json()) == [("call_d", result["content"])]
    assert events[-1]["type"] == "RUN_FINISHED" and "outcome" not in events[-1]


def test_a_branderux_client_cannot_approve_so_the_call_is_declined(tools_proxy: ProxyProcess, up: ScriptedUpstream,
                                                                   crm: MCPHTTPServer) -> None:
    up.script(sse_response(calls(("call_b", "delete_order", {"order_id": "19"}))))
    up.script(sse_response(text("I cannot delete it from here.")))
    events = run(tools_proxy, "/confirm", {"params": {"messages": USER}}, done=True)
    assert [e["type"] for e in events][-1] == "RUN_FINISHED" and "outcome" not in events[-1]
    assert deletions(crm, "19") == "0"
    (declined,) = tool_messages(up.requests[1].json())
    assert declined == ("call_b",
                        "delete_order needs the user's approval, which this client cannot give; it was not run.")


def test_a_resume_entry_that_answers_nothing_is_refused(tools_proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    reply = ask(tools_proxy, "/confirm", agui(USER, resume=[{"interruptId": "approval:nope",
                                                                    "status": "resolved"}]))
    assert reply.status == 422 and "resume[0].interruptId" in reply.json()["error"]["message"]


# -- a client that leaves -------------------------------------------------------------------------


def test_a_client_that_leaves_cancels_the_calls_in_flight(tools_proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(calls(("call_h", "hang", {"seconds": 1.2}))))
    with RawStream(tools_proxy.url, "/agent", agui(USER), headers={"authorization": f"Bearer {TOKEN}"}) as stream:
        stream.read_until(b'"TOOL_CALL_END"')
        stream.close()
    wait_for_output(tools_proxy, "the client left")
    # No second step was asked for: the `up` fixture fails on an unscripted request.
    assert len(up.requests) == 1


def test_secrets_of_mcp_servers_never_leave(tools_proxy: ProxyProcess) -> None:
    output = tools_proxy.output()
    assert MCP_TOKEN not in output and KEY not in output


def test_check_reports_each_mcp_server(crm: MCPHTTPServer, tmp_path: Path) -> None:
    port = free_port()
    path = write_config(tmp_path, {
        "upstreams": {"u": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9/v1", "model": "m"}},
        "mcp_servers": {"crm": {"url": crm.url}, "gone": {"url": f"http://127.0.0.1:{port}/mcp", "connect_timeout": 1}},
        "routes": [{"path": "/a", "upstream": "u", "server_tools": {"servers": ["crm", "gone"]}}]})
    done = run_cli(tmp_path, ["check", "--config", str(path)])
    assert done.returncode == 0, done  # a server that is down does not make the config invalid
    assert "agui-proxy: mcp_servers.crm: reached, " in done.stdout and "search_customers" in done.stdout
    assert "agui-proxy: warning: mcp_servers.gone: not reachable (" in done.stderr
