"""AG-UI ``RunAgentInput`` bodies through the real proxy (its CLI) in front of a scripted upstream.

The terminator rules of PROTOCOL.md section 1 (no ``data: [DONE]`` for AG-UI clients under
``done: auto``; ``always`` / ``never`` override), the ``event: <TYPE>`` lines of ``event_lines``,
the ids echoed, what reaches the upstream, and 422s that name the field.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from ag_ui.core import PROTOCOL_VERSION

from ..support.agui_check import text_of, tool_calls_of
from ..support.openai_chat_streams import MODEL, TEXT, TIME_ARGS, WEATHER_ARGS, text_transcript, tool_transcript
from ..support.proxy import ProxyProcess, ProxySetup, Reply, post, sse_events
from ..support.upstream import ScriptedUpstream, body_response, sse_response

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "sk-test-agui-SECRET-0123456789"
ROUTES = {"/agent": {}, "/always": {"done": "always"}, "/never": {"done": "never"}, "/events": {"event_lines": True}}


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    config = {
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": KEY,
                                 "model": MODEL, "retries": 0}},  # one scripted answer per request
        "routes": [{"path": path, "upstream": "openai", **options} for path, options in ROUTES.items()],
    }
    return ProxySetup(config)


def run_input(messages: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {"threadId": "thread-agui-1", "runId": "run-agui-1",
            "messages": messages or [{"id": "u1", "role": "user", "content": "What is the weather in Paris?"}],
            **fields}


BRANDERUX = {"params": {"messages": [{"role": "user", "content": "What is the weather in Paris?"}]}}


def agui_events(reply: Reply, *, done: bool, event_lines: bool = False) -> list[dict[str, Any]]:
    return sse_events(reply, KEY, done=done, event_lines=event_lines)


def test_run_agent_input_streams_without_done_and_echoes_the_ids(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    events = agui_events(post(proxy.url + "/agent", run_input(parentRunId="run-agui-0")), done=False)
    assert text_of(events) == TEXT
    started, finished = events[0], events[-1]
    assert started == {"type": "RUN_STARTED", "threadId": "thread-agui-1", "runId": "run-agui-1",
                       "parentRunId": "run-agui-0", "protocolVersion": PROTOCOL_VERSION,
                       "timestamp": started["timestamp"]}
    assert finished["type"] == "RUN_FINISHED"
    assert (finished["threadId"], finished["runId"]) == ("thread-agui-1", "run-agui-1")


def test_run_agent_input_with_tools_and_history_reaches_the_upstream(proxy: ProxyProcess,
                                                                    up: ScriptedUpstream) -> None:
    up.script(sse_response(tool_transcript()))
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = run_input([
        {"id": "s", "role": "system", "content": "You are a weather assistant."},
        {"id": "u1", "role": "user", "content": "Hi"},
        {"id": "a1", "role": "assistant", "content": "Hello!"},
        {"id": "x", "role": "activity", "activityType": "typing", "content": {}},
        {"id": "u2", "role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
    ], tools=[{"name": "get_weather", "description": "Current weather in a city", "parameters": schema}],
        context=[{"description": "units", "value": "metric"}], state={"ignored": True}, forwardedProps={"x": 1})
    events = agui_events(post(proxy.url + "/agent", body), done=False)
    assert tool_calls_of(events) == [("call_W3ath3r0001", "get_weather", WEATHER_ARGS),
                                     ("call_T1me0002", "get_time", TIME_ARGS)]
    sent = up.requests[0].json()
    assert sent["messages"] == [
        {"role": "system", "content": "You are a weather assistant.\n\nContext from the application:\n- units: metric"},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assert sent["tools"] == [{"type": "function", "function": {"name": "get_weather",
                                                               "description": "Current weather in a city",
                                                               "parameters": schema}}]
    assert "state" not in sent and "ignored" not in up.requests[0].body.decode()


def test_branderux_bodies_end_with_done_under_auto(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    events = agui_events(post(proxy.url + "/agent", BRANDERUX), done=True)
    assert events[0]["protocolVersion"] == PROTOCOL_VERSION and text_of(events) == TEXT


@pytest.mark.parametrize(("path", "body", "done"), [
    ("/always", run_input(), True),
    ("/always", BRANDERUX, True),
    ("/never", run_input(), False),
    ("/never", BRANDERUX, False),
], ids=["always-agui", "always-branderux", "never-agui", "never-branderux"])
def test_the_route_overrides_the_terminator(proxy: ProxyProcess, up: ScriptedUpstream, path: str,
                                            body: dict[str, Any], done: bool) -> None:
    up.script(sse_response(text_transcript()))
    assert text_of(agui_events(post(proxy.url + path, body), done=done)) == TEXT


def test_the_terminator_follows_a_run_error_too(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(500, {"error": {"message": "boom", "type": "server_error"}}))
    events = agui_events(post(proxy.url + "/agent", run_input()), done=False)
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
    assert events[-1]["code"] == "upstream_unavailable"


def test_event_lines_name_each_frame(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    reply = post(proxy.url + "/events", run_input())
    events = agui_events(reply, done=False, event_lines=True)  # parse_frames checks each line names its event
    names = re.findall(rb"^event: ([A-Z_]+)$", reply.body, re.MULTILINE)
    assert [n.decode() for n in names] == [e["type"] for e in events]
    assert text_of(events) == TEXT


@pytest.mark.parametrize(("body", "message"), [
    (run_input([{"id": "a", "role": "assistant", "toolCalls": [
        {"id": "c", "type": "function", "function": {"arguments": "{}"}}]}]),
     "messages[0].toolCalls[0].function.name: is required"),
    ({"threadId": "t", "messages": []}, "runId: is required"),
    (run_input([{"id": "u", "role": "user", "content": [
        {"type": "video", "source": {"type": "url", "value": "https://example.test/v.mp4"}}]}]),
     "the Chat Completions API cannot take a video (unknown type) by URL"),
])
def test_bad_run_agent_inputs_are_422s(proxy: ProxyProcess, up: ScriptedUpstream, body: dict[str, Any],
                                       message: str) -> None:
    reply = post(proxy.url + "/agent", body)
    assert reply.status == 422, reply.body
    assert reply.headers["content-type"] == "application/json"
    error = reply.json()["error"]
    assert error["message"].startswith(message), error
    assert not up.requests  # nothing went upstream
