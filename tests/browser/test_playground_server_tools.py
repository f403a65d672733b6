"""The playground with server-side tools, in headless Chromium, against the real proxy (its CLI),
a scripted upstream and a real MCP server built with the SDK: the proxy's own tool calls with
their results, and the approval prompt of a call that waits for one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ..support.chat_steps import calls, text
from ..support.mcp_server import MCPHTTPServer, wait_tools_ready
from ..support.proxy import ProxyProcess, ProxySetup
from ..support.upstream import ScriptedUpstream, sse_response
from .browser import PlaygroundPage

pytestmark = pytest.mark.integration
KEY = "sk-test-PLAYGROUND-tools-0123456789"


@pytest.fixture(scope="module")
def crm() -> Iterator[MCPHTTPServer]:
    with MCPHTTPServer() as server:
        yield server


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream, crm: MCPHTTPServer) -> ProxySetup:
    config = {
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "${KEY}",
                                 "model": "gpt-test", "retries": 0}},
        "mcp_servers": {"crm": {"url": crm.url}},
        "routes": [{"path": "/api/tools", "upstream": "openai", "server_tools": {
            "servers": ["crm"], "allow": ["search_customers", "delete_order"], "confirm": ["delete_order"]}}],
        "playground": True,
    }
    return ProxySetup(config, env={"KEY": KEY})


@pytest.fixture
def page(tab: PlaygroundPage, proxy: ProxyProcess) -> PlaygroundPage:
    wait_tools_ready(proxy)
    tab.open(f"{proxy.url}/playground")
    tab.fill(route="/api/tools")
    tab.choose_body("agui")
    return tab


def test_the_proxys_tool_calls_show_their_results(page: PlaygroundPage, up: ScriptedUpstream) -> None:
    up.script(sse_response(calls(("call_s", "search_customers", {"query": "Ada"}))))
    up.script(sse_response(text("Ada is customer 7.")))
    page.send("Find Ada")
    assert page.wait_state("finished", "error") == "finished", page.texts(".run-error")
    assert page.last_reply(".tool-result-text") == [
        "2 customers match 'Ada': Ada Lovelace (id 7), Alan Turing (id 9)"]
    assert page.last_reply(".text") == ["Ada is customer 7."]
    assert page.last_reply("textarea.tool-result") == []  # nothing to type: the proxy ran it
    assert page.page.text_content("#status") == "finished"


def test_a_call_waiting_for_approval_asks_then_goes_on(page: PlaygroundPage, up: ScriptedUpstream) -> None:
    sent: list[str] = []
    page.page.on("request", lambda r: sent.append(r.post_data or "") if r.url.endswith("/api/tools") else None)
    up.script(sse_response(calls(("call_d", "delete_order", {"order_id": "5"}))))
    page.send("Delete order 5")
    assert page.wait_state("finished", "error") == "finished", page.texts(".run-error")
    assert page.last_reply(".approval-question") == ['Run delete_order with {"order_id": "5"}?']
    up.script(sse_response(text("Order 5 is gone.")))
    page.page.click(".approval .approve")
    page.wait_text("#transcript .turn.assistant:last-child .text", "Order 5 is gone.")
    assert page.wait_state("finished", "error") == "finished", page.texts(".run-error")
    assert page.last_reply(".tool-result-text") == ["order 5 deleted (deletion number 1)"]
    resumed = json.loads(sent[-1])
    assert resumed["resume"] == [{"interruptId": "approval:call_d", "status": "resolved"}]
    assert resumed["messages"][-1]["toolCalls"][0]["id"] == "call_d"
