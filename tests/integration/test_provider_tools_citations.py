"""Provider tools and citations through the real proxy: the route's ``citations`` option and the
body kind decide who gets what, and ``enrichers=`` of the library mode see every run.

The CLI serves three routes in front of a loopback upstream that replays Anthropic's recorded
web search: AG-UI bodies get the search as a tool call with its result and the citations in the
text message's metadata; BranderUX bodies get the text alone, or the citations too on a route
that says ``citations: true``.  In-process, :func:`create_app` with ``enrichers=`` runs the
operator's enricher after the citation enricher, and one that raises leaves the run whole.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import anyio
import pytest

from agui_proxy import EnrichContext, create_app, with_metadata
from agui_proxy.config import config_from_dict
from agui_proxy.core import events as ev

from ..support.agui_check import assert_valid_run, parse_frames, text_of, tool_calls_of
from ..support.asgi import request
from ..support.proxy import ProxyProcess, ProxySetup, post, sse_events
from ..support.recordings import STREAMS
from ..support.upstream import SSE_HEADERS, ScriptedUpstream, Status, split

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "sk-ant-api03-SECRET-Qz7xW4vK9pL2mN8rT5yB"
RECORDING = STREAMS / "anthropic" / "server-tool-web-search-citations.sse"
QUESTION = "What is the current weather in San Francisco?"
AGUI_BODY = {"threadId": "t-cite", "runId": "r-cite", "messages": [{"id": "u1", "role": "user", "content": QUESTION}],
             "tools": [], "context": [], "state": {}, "forwardedProps": {}}
BRANDERUX_BODY = {"params": {"messages": [{"role": "user", "content": QUESTION}]}}


def recording() -> bytes:
    if not RECORDING.is_file():
        pytest.skip(f"the shared provider recordings are not at {STREAMS} (set AGUI_PROXY_SHARED)")
    return RECORDING.read_bytes()


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    claude = {"provider": "anthropic", "base_url": "${UPSTREAM_URL}/v1", "api_key": "${TEST_KEY}",
              "model": "claude-opus-4-1", "retries": 0}
    return ProxySetup({"upstreams": {"claude": claude},
                       "routes": [{"path": "/api/agent", "upstream": "claude"},
                                  {"path": "/api/cited", "upstream": "claude", "citations": True}]},
                      env={"TEST_KEY": KEY, "UPSTREAM_URL": upstream.url})


def ask(proxy: ProxyProcess, up: ScriptedUpstream, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    up.script(Status(200, SSE_HEADERS), split(recording(), 113))
    return sse_events(post(f"{proxy.url}{path}", body), KEY, done="params" in body)


def cited(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for e in events if e["type"] == "TEXT_MESSAGE_END"
            for c in (e.get("metadata") or {}).get("citations", [])]


def test_an_agui_client_gets_the_search_and_the_citations(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    events = ask(proxy, up, "/api/agent", AGUI_BODY)
    [(call_id, name, arguments)] = tool_calls_of(events)
    assert (call_id, name, json.loads(arguments)) == ("srvtoolu_01SPfvT38PDPAFnkcrMNGUrM", "web_search",
                                                      {"query": "San Francisco weather today"})
    [result] = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    assert result["toolCallId"] == call_id and "wunderground.com" in result["content"]
    assert "encrypted_content" not in result["content"]
    assert len(cited(events)) == 5 and events[-1]["result"]["stopReason"] == "end_turn"
    [request] = up.requests
    assert request.json()["messages"] == [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]


def test_a_branderux_client_gets_the_text_alone(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    events = ask(proxy, up, "/api/agent", BRANDERUX_BODY)
    assert tool_calls_of(events) == [] and cited(events) == []
    assert {e["type"] for e in events} == {"RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT",
                                           "TEXT_MESSAGE_END", "RUN_FINISHED"}
    assert text_of(events).startswith("Based on the search results")


def test_citations_true_gives_a_branderux_client_the_citations(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    events = ask(proxy, up, "/api/cited", BRANDERUX_BODY)
    assert tool_calls_of(events) == []  # a BranderUX client renders every tool call as a screen
    assert [c["url"] for c in cited(events)][:2] == ["https://www.wunderground.com/hourly/us/ca/san-francisco"] * 2


# -- the library mode's enrichers ------------------------------------------------------------------

OUR_SOURCES = [{"url": "https://intranet.example.com/weather", "title": "Our own weather desk"}]


def our_sources(event: ev.Event, context: EnrichContext) -> Iterable[ev.Event] | None:
    if isinstance(event, ev.TextMessageEnd):
        return [with_metadata(event, sources=OUR_SOURCES), ev.Custom("cited", len((event.metadata or {})
                                                                                 .get("citations", [])))]
    return None


def broken(event: ev.Event, context: EnrichContext) -> Iterable[ev.Event] | None:
    raise RuntimeError("the operator's enricher has a bug")


def run_in_process(upstream: ScriptedUpstream, enrichers: list[Any]) -> list[dict[str, Any]]:
    upstream.script(Status(200, SSE_HEADERS), split(recording(), 4096))
    app = create_app(config_from_dict({
        "upstreams": {"claude": {"provider": "anthropic", "base_url": f"{upstream.url}/v1", "api_key": KEY,
                                 "model": "claude-opus-4-1", "retries": 0}},
        "routes": [{"path": "/api/agent", "upstream": "claude"}]}, env={}), enrichers=enrichers)

    async def go() -> bytes:
        try:
            reply = await request(app, "POST", "/api/agent", body=json.dumps(AGUI_BODY).encode(),
                                  headers=[("content-type", "application/json")])
            assert reply.status == 200, reply.body
            return reply.body
        finally:
            await app.aclose()

    events, _ = parse_frames(anyio.run(go))
    assert_valid_run(events)
    return events


def test_the_operators_enricher_runs_after_the_citations(up: ScriptedUpstream) -> None:
    events = run_in_process(up, [our_sources])
    end = next(e for e in events if e["type"] == "TEXT_MESSAGE_END")
    assert end["metadata"]["sources"] == OUR_SOURCES and len(end["metadata"]["citations"]) == 5
    assert events[-2] == {"type": "CUSTOM", "name": "cited", "value": 5, "timestamp": events[-2]["timestamp"]}


def test_an_enricher_that_raises_leaves_the_run_whole(up: ScriptedUpstream, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="agui_proxy.enrichers"):
        events = run_in_process(up, [broken])
    assert events[-1]["type"] == "RUN_FINISHED" and len(cited(events)) == 5
    assert len([r for r in caplog.records if r.name == "agui_proxy.enrichers"]) == 1
