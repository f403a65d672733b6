"""The playground in headless Chromium, against the real proxy (its CLI) and a scripted loopback upstream.

What a person sees is what is asserted: the text growing while the upstream is held mid-stream,
tool calls with their arguments, errors, the event log against the bytes the proxy sent, and a
multi-turn tool conversation whose turns reach the upstream in the provider's format.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ag_ui.core import RunAgentInput

import agui_proxy

from ..support.agui_check import assert_valid_run, parse_frames
from ..support.openai_chat_streams import (
    TEXT,
    TEXT_PIECES,
    TIME_ARGS,
    WEATHER_ARGS,
    chunk,
    text_transcript,
    tool_transcript,
)
from ..support.proxy import ProxyProcess, ProxySetup, start_proxy
from ..support.upstream import (
    SSE_HEADERS,
    Chunk,
    Cut,
    End,
    ScriptedUpstream,
    Status,
    WaitFor,
    body_response,
    sse_event,
    sse_response,
    sse_steps,
)
from . import showcase
from .browser import PlaygroundPage

pytestmark = pytest.mark.integration

STATIC_PAGE = Path(agui_proxy.__file__).parent / "app" / "static" / "playground.html"
KEY = "sk-test-PLAYGROUND-0123456789abcdef"
TOKEN = "playground-test-token-5fd0c1"


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    config = showcase.proxy_config("${UPSTREAM_URL}", auth={"bearer_tokens": [TOKEN]})
    return ProxySetup(config, env={"TEST_UPSTREAM_KEY": KEY, "UPSTREAM_URL": upstream.url})


def open_page(tab: PlaygroundPage, proxy: ProxyProcess) -> PlaygroundPage:
    return tab.open(f"{proxy.url}/playground", token=TOKEN)


def pretty(arguments: str) -> str:
    return json.dumps(json.loads(arguments), indent=2)


def test_text_streams_in_while_the_upstream_is_held(tab: PlaygroundPage, proxy: ProxyProcess,
                                                    up: ScriptedUpstream) -> None:
    first, second, rest = threading.Event(), threading.Event(), threading.Event()
    role, *pieces, finish, usage = text_transcript()
    up.script(Status(200, SSE_HEADERS), Chunk(sse_event(role)), WaitFor(first),
              Chunk(sse_event(pieces[0])), WaitFor(second), Chunk(sse_event(pieces[1])), WaitFor(rest),
              *sse_steps([*pieces[2:], finish, usage]), End())
    open_page(tab, proxy).send("Quel temps fait-il à Paris ?")

    # RUN_STARTED is on the page while the upstream has sent nothing but its first chunk.
    tab.wait_log("RUN_STARTED")
    assert tab.state == "running"
    time.sleep(0.3)  # a slow first token, to be seen in the log's time column
    first.set()
    tab.wait_text("#transcript .turn.assistant .text", TEXT_PIECES[0])
    assert tab.state == "running" and tab.texts("#transcript .run-summary") == []
    second.set()
    tab.wait_text("#transcript .turn.assistant .text", TEXT_PIECES[0] + TEXT_PIECES[1])
    assert tab.state == "running"
    assert [row.type for row in tab.log()] == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT",
                                               "TEXT_MESSAGE_CONTENT"]
    rest.set()

    assert tab.wait_state("finished", "error") == "finished"
    assert tab.last_reply(".text") == [TEXT]
    assert tab.texts(".turn.user .text") == ["Quel temps fait-il à Paris ?"]
    assert tab.last_reply(".stop-reason") == ["stop: end_turn (provider: stop)"]
    assert tab.last_reply(".usage") == ["openai gpt-4o-mini-2024-07-18: 31 in, 9 out, 40 total, 0 reasoning, 0 cached"]
    # The held first token shows in the log's times (a lower bound, set by the hold: never flaky).
    log = tab.log()
    first_content = next(row for row in log if row.type == "TEXT_MESSAGE_CONTENT")
    assert first_content.t - log[0].t >= 300, [(row.t, row.type) for row in log]
    assert [row.t for row in log] == sorted(row.t for row in log)
    # The request the upstream got carries the proxy's key, never the page's token.
    (request,) = up.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert TOKEN not in request.body.decode() and TOKEN not in json.dumps(request.headers)


def test_tool_call_arguments_fill_in_then_pretty_print(tab: PlaygroundPage, proxy: ProxyProcess,
                                                       up: ScriptedUpstream) -> None:
    release = threading.Event()
    events = tool_transcript()
    held = 6  # after the weather call's '": "Par' fragment
    up.script(Status(200, SSE_HEADERS), *sse_steps(events[:held], done=False), WaitFor(release),
              *sse_steps(events[held:]), End())
    open_page(tab, proxy).send("Weather and time in Paris?")

    card = '#transcript .tool-call[data-tool-call-id="call_W3ath3r0001"]'
    tab.wait_text(f"{card} .tool-args", '{"city": "Par')
    assert tab.texts(f"{card} .badge") == ["arguments streaming…"]
    assert tab.texts(f"{card} .tool-name") == ["get_weather"]
    release.set()

    assert tab.wait_state("finished", "error") == "finished"
    assert tab.texts(f"{card} .tool-args") == [pretty(WEATHER_ARGS)]
    assert tab.texts(f"{card} .badge") == ["arguments complete"]
    assert tab.last_reply(".tool-name") == ["get_weather", "get_time"]
    assert tab.last_reply(".tool-id") == ["call_W3ath3r0001", "call_T1me0002"]
    assert tab.last_reply(".tool-args") == [pretty(WEATHER_ARGS), pretty(TIME_ARGS)]
    assert tab.last_reply(".text") == ["Let me look that up."]
    assert tab.last_reply(".stop-reason") == ["stop: tool_use (provider: tool_calls)"]
    assert tab.page.text_content("#send") == "Send tool results"


def test_tool_results_typed_by_hand_go_back_as_the_next_turn(tab: PlaygroundPage, proxy: ProxyProcess,
                                                             up: ScriptedUpstream) -> None:
    answer = "Il fait 12 °C à Paris, et il est 15 h."
    up.script(sse_response(tool_transcript()))
    up.script(sse_response([chunk({"role": "assistant", "content": answer}), chunk({}, "stop")]))
    open_page(tab, proxy).fill(system="Answer in French.")
    tab.send("Weather and time in Paris?")
    assert tab.wait_state("finished", "error") == "finished"

    tab.send()  # no results typed yet: the page says which are missing and sends nothing
    assert tab.page.text_content("#form-error") == "Type a result for get_weather, get_time first."
    tab.page.fill('.tool-call[data-tool-call-id="call_W3ath3r0001"] .tool-result', '{"temp_c": 12}')
    tab.page.fill('.tool-call[data-tool-call-id="call_T1me0002"] .tool-result', "15:00")
    tab.send()
    assert tab.wait_state("finished", "error") == "finished"
    assert tab.last_reply(".text") == [answer]

    second = up.wait_for_requests(2)[1].json()
    assert second["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "Let me look that up.", "tool_calls": [
            {"id": "call_W3ath3r0001", "type": "function",
             "function": {"name": "get_weather", "arguments": WEATHER_ARGS}},
            {"id": "call_T1me0002", "type": "function", "function": {"name": "get_time", "arguments": TIME_ARGS}},
        ]},
        {"role": "tool", "tool_call_id": "call_W3ath3r0001", "content": '{"temp_c": 12}'},
        {"role": "tool", "tool_call_id": "call_T1me0002", "content": "15:00"},
    ]
    assert tab.page.text_content("#send") == "Send"


@pytest.mark.parametrize(("script", "code", "partial"), [
    (body_response(429, {"error": {"message": "Rate limit reached for gpt-4o-mini", "type": "requests"}}),
     "upstream_rate_limited", None),
    ([Status(200, SSE_HEADERS), *sse_steps(text_transcript()[:3], done=False), Cut()],
     "upstream_truncated", TEXT_PIECES[0] + TEXT_PIECES[1]),
], ids=["429", "cut-mid-stream"])
def test_upstream_error_shows_as_an_error(tab: PlaygroundPage, proxy: ProxyProcess, up: ScriptedUpstream,
                                          script: list[Any], code: str, partial: str | None) -> None:
    up.script(script)
    open_page(tab, proxy).send("Hello?")
    assert tab.wait_state("finished", "error") == "error"
    (title,) = tab.last_reply(".run-error strong")
    assert title == f"RUN_ERROR {code}"
    (message,) = tab.last_reply(".run-error .error-message")
    (error,) = [e for e in tab.log_events() if e["type"] == "RUN_ERROR"]
    assert message == error["message"] and message
    assert tab.page.is_visible("#transcript .run-error")
    assert tab.last_reply(".text") == ([partial] if partial else [])
    assert KEY not in tab.page.content()


def test_stop_ends_the_request_and_frees_the_upstream(tab: PlaygroundPage, proxy: ProxyProcess,
                                                     up: ScriptedUpstream) -> None:
    never = threading.Event()
    role, first, *_ = text_transcript()
    up.script(Status(200, SSE_HEADERS), *sse_steps([role, first], done=False), WaitFor(never))
    open_page(tab, proxy).send("Tell me a long story.")
    tab.wait_text("#transcript .turn.assistant .text", TEXT_PIECES[0])
    tab.page.click("#stop")
    assert tab.wait_state("finished", "error") == "error"
    assert tab.last_reply(".run-error strong") == ["Stopped"]
    assert tab.last_reply(".hint") == ["This reply is not kept in the conversation."]
    (request,) = up.wait_for_requests(1)
    up.wait_closed(request.connection)  # the proxy saw the browser leave and closed the upstream request


def test_wrong_token_shows_the_proxys_refusal(tab: PlaygroundPage, proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    tab.open(f"{proxy.url}/playground", token="not-the-token")
    assert tab.page.get_attribute("#token", "placeholder") == "required by this proxy"
    tab.send("Hello?")
    assert tab.wait_state("finished", "error") == "error"
    assert tab.last_reply(".run-error strong") == ["HTTP 401"]
    assert tab.last_reply(".run-error .error-message") == ["unauthorized: the bearer token is not valid"]
    assert up.requests == []


def test_event_log_lists_every_event_the_proxy_sent_in_order(tab: PlaygroundPage, proxy: ProxyProcess,
                                                             up: ScriptedUpstream) -> None:
    with tab.page.expect_response(f"{proxy.url}/api/agent") as response:
        showcase.run_showcase(tab, proxy.url, up, token=TOKEN)
    assert tab.state == "finished"
    # What the browser's network layer received, split by the tests' own parser.
    sent, done = parse_frames(response.value.body())
    assert done
    assert_valid_run(sent)
    log = tab.log()
    assert [row.type for row in log] == [e["type"] for e in sent] + ["[DONE]"]
    assert [json.loads(row.payload) for row in log[:-1]] == sent
    assert [row.t for row in log] == sorted(row.t for row in log)
    # Every kind of event is there, and each is shown.
    assert {e["type"] for e in sent} >= {"REASONING_START", "REASONING_MESSAGE_CONTENT", "REASONING_END",
                                         "TEXT_MESSAGE_CONTENT", "TOOL_CALL_ARGS", "RUN_FINISHED"}
    assert tab.last_reply(".reasoning-text") == ["".join(showcase.REASONING)]
    assert tab.page.get_attribute("#transcript .reasoning", "open") is not None
    tab.page.click("#transcript .reasoning summary")  # collapsible
    assert not tab.page.is_visible("#transcript .reasoning-text")
    assert tab.last_reply(".text") == ["".join(showcase.TEXT)]
    assert tab.last_reply(".tool-args") == [pretty("".join(showcase.ARGS))]
    assert tab.last_reply(".usage") == [f"openai {showcase.MODEL}: 96 in, 71 out, 167 total, 38 reasoning, 64 cached"]
    # The request body shown on the page is the one that was sent.
    sent_body = json.loads(response.value.request.post_data or "")
    assert json.loads(tab.page.text_content("#request-body") or "") == sent_body
    assert sent_body["params"]["system"] == showcase.SYSTEM
    assert [t["function"]["name"] for t in sent_body["params"]["tools"]["openai"]] == ["get_weather"]
    assert [t["name"] for t in sent_body["params"]["tools"]["anthropic"]] == ["get_weather"]


def test_a_burst_of_events_is_all_drawn_and_logged(tab: PlaygroundPage, proxy: ProxyProcess,
                                                  up: ScriptedUpstream) -> None:
    """Thousands of events in one burst (a fast model, a replay): the page keeps up and drops none.

    A page that forces a layout per event stays busy for many seconds here and times out.
    """
    deltas = 1500
    up.script(sse_response(showcase.burst_transcript(deltas)))
    open_page(tab, proxy).send("Count.")
    assert tab.wait_state("finished", "error") == "finished"
    assert tab.last_reply(".text") == ["".join(f" w{i}" for i in range(deltas))]
    assert json.loads(tab.last_reply(".tool-args")[0]) == {"n": [*range(deltas // 10), 0]}
    log = tab.log()
    assert [row.type for row in log].count("TEXT_MESSAGE_CONTENT") == deltas
    assert len(log) == 1 + (1 + deltas + 1) + (1 + deltas // 10 + 2 + 1) + 1 + 1  # ... RUN_FINISHED, [DONE]


# -- AG-UI bodies, and another origin -------------------------------------------------------------------


@pytest.fixture(scope="module")
def cors_proxy(proxy: ProxyProcess, upstream: ScriptedUpstream,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    """A second proxy whose CORS allows the first one's origin (where the page is loaded from)."""
    config = showcase.proxy_config("${UPSTREAM_URL}", auth={"bearer_tokens": [TOKEN]},
                                   cors={"allow_origins": [proxy.url]})
    env = {"TEST_UPSTREAM_KEY": KEY, "UPSTREAM_URL": upstream.url}
    with start_proxy(tmp_path_factory.mktemp("cors-proxy"), config, env=env) as running:
        yield running


def test_agui_run_agent_input_multi_turn(tab: PlaygroundPage, proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """The AG-UI switch: RunAgentInput bodies the official model takes, a stream with no [DONE], tool results."""
    sent: list[str] = []
    tab.page.on("request", lambda r: sent.append(r.post_data or "") if r.url.endswith("/api/agent") else None)
    open_page(tab, proxy).fill(system="Be brief.", tools=showcase.TOOLS_JSON)
    tab.choose_body("agui")
    up.script(sse_response(tool_transcript()))
    tab.send("Weather and time in Paris?")
    assert tab.wait_state("finished", "error") == "finished", tab.texts(".run-error")
    assert tab.log()[-1].type == "RUN_FINISHED"  # an AG-UI client gets no data: [DONE]
    assert tab.last_reply(".tool-args") == [pretty(WEATHER_ARGS), pretty(TIME_ARGS)]
    tab.page.fill('.tool-call[data-tool-call-id="call_W3ath3r0001"] .tool-result', "12 °C")
    tab.page.fill('.tool-call[data-tool-call-id="call_T1me0002"] .tool-result', "15:00")
    up.script(sse_response(text_transcript()))
    tab.send()
    assert tab.wait_state("finished", "error") == "finished", tab.texts(".run-error")
    assert tab.last_reply(".text") == [TEXT]

    bodies = [json.loads(body) for body in sent]
    assert len(bodies) == 2
    for body in bodies:
        RunAgentInput.model_validate_json(json.dumps(body), strict=True)  # the official model takes it
        assert set(body) == {"threadId", "runId", "messages", "tools", "context", "state", "forwardedProps"}
        assert body["tools"] == json.loads(showcase.TOOLS_JSON)
        assert (body["context"], body["state"], body["forwardedProps"]) == ([], {}, {})
    assert bodies[0]["threadId"] == bodies[1]["threadId"] and bodies[0]["runId"] != bodies[1]["runId"]
    messages = bodies[1]["messages"]
    ids = [m.pop("id") for m in messages]
    assert len(set(ids)) == len(ids) and all(ids)
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "Let me look that up.", "toolCalls": [
            {"id": "call_W3ath3r0001", "type": "function",
             "function": {"name": "get_weather", "arguments": WEATHER_ARGS}},
            {"id": "call_T1me0002", "type": "function", "function": {"name": "get_time", "arguments": TIME_ARGS}},
        ]},
        {"role": "tool", "content": "12 °C", "toolCallId": "call_W3ath3r0001"},
        {"role": "tool", "content": "15:00", "toolCallId": "call_T1me0002"},
    ]
    # The proxy turned them into the provider's conversation: the calls and their results, paired by id.
    upstream_messages = up.wait_for_requests(2)[1].json()["messages"]
    assert [m["role"] for m in upstream_messages] == ["system", "user", "assistant", "tool", "tool"]
    assert [c["id"] for c in upstream_messages[2]["tool_calls"]] == ["call_W3ath3r0001", "call_T1me0002"]
    assert [(m["tool_call_id"], m["content"]) for m in upstream_messages[3:]] == [
        ("call_W3ath3r0001", "12 °C"), ("call_T1me0002", "15:00")]


def test_from_another_origin_that_cors_allows(tab: PlaygroundPage, proxy: ProxyProcess, cors_proxy: ProxyProcess,
                                              up: ScriptedUpstream) -> None:
    """Loaded from one origin, posting to a proxy on another that allows it: a frontend's dev server."""
    open_page(tab, proxy).fill(base_url=cors_proxy.url)
    up.script(sse_response(text_transcript()))
    url = f"{cors_proxy.url}/api/agent"
    with tab.page.expect_response(lambda r: r.url == url and r.request.method == "POST") as response:
        tab.send("Hello from elsewhere")
    assert tab.wait_state("finished", "error") == "finished", tab.texts(".run-error")
    assert tab.last_reply(".text") == [TEXT]
    assert response.value.request.all_headers()["origin"] == proxy.url
    assert response.value.all_headers()["access-control-allow-origin"] == proxy.url
    (request,) = up.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_another_origin_without_cors_says_so(tab: PlaygroundPage, proxy: ProxyProcess, cors_proxy: ProxyProcess,
                                             up: ScriptedUpstream) -> None:
    """Loaded from the second proxy, posting to the first, whose CORS allows no origin."""
    tab.open(f"{cors_proxy.url}/playground", token=TOKEN)
    tab.fill(base_url=proxy.url)
    tab.send("Hello?")
    assert tab.wait_state("finished", "error") == "error"
    (message,) = tab.last_reply(".run-error .error-message")
    assert "does the proxy allow this one with CORS?" in message
    assert any("CORS" in error for error in tab.errors), tab.errors  # Chromium's own console message
    tab.errors.clear()
    assert up.requests == []


def test_bad_fields_are_named_and_nothing_is_sent(tab: PlaygroundPage, proxy: ProxyProcess,
                                                 up: ScriptedUpstream) -> None:
    open_page(tab, proxy)
    assert tab.page.eval_on_selector_all("#route-list option", "os => os.map(o => o.value)") == ["/api/agent"]
    assert tab.page.text_content("#route-info") == "this proxy serves /api/agent (openai-chat)"
    for fields, error in [
        ({"route": "api/agent"}, "Route: a path that starts with /, such as /api/agent"),
        ({"route": "/api/agent", "base_url": "not a url"}, 'Base URL: "not a url" is not a URL'),
        ({"base_url": proxy.url, "tools": "[{"}, "Tools: not valid JSON"),
        ({"tools": '[{"description": "no name"}]'}, "Tools[0]: a tool needs a name"),
        ({"tools": "", "max_tokens": "0"}, "Max tokens: a positive whole number"),
    ]:
        tab.fill(**fields)
        tab.send("Hello?")
        assert (tab.page.text_content("#form-error") or "").startswith(error)
        assert tab.state == "idle"
    assert up.requests == []


def test_the_static_files_open_as_they_are(tab: PlaygroundPage) -> None:
    """Opened from disk (or any static server), the page has no route list and aims at the default proxy."""
    tab.page.goto(STATIC_PAGE.as_uri())
    assert tab.page.eval_on_selector_all("#route-list option", "os => os.length") == 0
    assert tab.page.input_value("#base-url") == "http://127.0.0.1:8000"
    assert tab.page.input_value("#route") == "/api/agent"
    assert tab.page.text_content("#route-info") == "type the path of a route of the proxy at the base URL"
    assert tab.state == "idle"
