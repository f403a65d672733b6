"""The official AG-UI client (``@ag-ui/client`` 1.0.0 and 0.0.59, Node) against the real proxy.

Every case runs under both pinned clients (:data:`CLIENTS`): 1.0.0, and 0.0.59, the version
``@copilotkit/runtime`` 1.75 ships, installed beside it under an npm alias (package.json).

Every recorded provider stream is replayed by a loopback upstream (tests/support/upstream.py) behind the
real proxy (its CLI, tests/support/proxy.py), and the official ``HttpAgent`` runs against it as a real
HTTP client, sending its own ``RunAgentInput``.  Each run must finish with no protocol error and
no console warning (the client reports stripped fields and protocol doubts as ``[ag-ui]``
warnings), and the messages it assembles must carry the recording's text, tool calls and
reasoning; failing upstreams must reach it as ``RUN_ERROR``.

All cases run in one Node process (``run_client.mjs``): starting Node and loading the client is
most of the cost of a case.  Skipped only when ``node`` is not installed (and then failed instead
when ``AGUI_PROXY_REQUIRE_NODE`` is set, as ``.ci/run`` does); the client itself is installed from
``package-lock.json`` with ``npm ci`` when it is missing (``.ci/run`` does that first).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ag_ui.core import PROTOCOL_VERSION

from ..providers import provider_tool_streams as transcripts
from ..support.proxy import ProxyProcess, start_proxy
from ..support.upstream import SSE_HEADERS, Request, ScriptedUpstream, Status, body_response, split
from .cases import (
    Recording,
    client_outcome,
    expected_outcome,
    expected_outcome_of,
    in_stream_errors,
    outcome_of,
    recording_params,
    registered_recordings,
)
from .clouds import CLOUD_CASES, google_env

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
KEY = "sk-conformance-SECRET-4f9a1c"
TOKEN = "agui-conformance-token-77d2"
CHUNK = 512  # upstream writes: events, lines and UTF-8 characters are cut wherever they fall
NODE_TIMEOUT = 240.0

# The official client versions every case runs under: version -> the package name it is installed as.
CLIENTS = {"1.0.0": "@ag-ui/client", "0.0.59": "ag-ui-client-0.0.59"}

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
HISTORY = [
    {"id": "s1", "role": "system", "content": "You are a weather assistant."},
    {"id": "u1", "role": "user", "content": "Weather in Paris?"},
    {"id": "a1", "role": "assistant", "toolCalls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
    {"id": "t1", "role": "tool", "toolCallId": "call_1", "content": "12 °C"},
    {"id": "u2", "role": "user", "content": "And in Rome?"},
]
TEXT_ANSWER = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Rome: "}}]},
               {"choices": [{"index": 0, "delta": {"content": "18 °C."}}]},
               {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]


def sse_body(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


@dataclass
class Case:
    """One run of the official client: its route, and the upstream's answer to it."""

    id: str
    provider: str
    answer: list[Any]
    done: str = "auto"
    event_lines: bool = False
    messages: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    context: list[dict[str, Any]] | None = None


def recording_case(recording: Recording) -> Case:
    data = recording.path.read_bytes()
    return Case(recording.id, recording.provider, [Status(200, SSE_HEADERS), split(data, CHUNK)])


# Transcripts of provider-run tools and citations (tests/providers/provider_tool_streams.py):
# case id -> (provider, its bytes).
TRANSCRIPTS = {
    "transcript/responses-web-search-citations": ("openai-responses", transcripts.responses_web_search),
    "transcript/chat-annotations": ("openai-chat", transcripts.chat_annotations),
    "transcript/chat-url-list": ("openai-chat", transcripts.chat_url_list),
    "transcript/gemini-code-execution": ("gemini", transcripts.gemini_code_execution),
}

# Cases beyond the recordings (Chat Completions, the provider every checkout has).
EXTRA_CASES = [
    *(Case(case_id, name, [Status(200, SSE_HEADERS), split(data(), 61)])
      for case_id, (name, data) in TRANSCRIPTS.items()),
    Case("upstream-500", "openai-chat", body_response(500, {"error": {"message": "The server had an error",
                                                                      "type": "server_error"}})),
    Case("history-tools-context", "openai-chat", [Status(200, SSE_HEADERS), split(sse_body(TEXT_ANSWER), 7)],
         messages=HISTORY, tools=[{"name": "get_weather", "description": "Weather in a city",
                                   "parameters": WEATHER_SCHEMA}],
         context=[{"description": "units", "value": "metric"}]),
    # ``event: <TYPE>`` lines before each data line: the official client still reads every event.
    Case("event-lines", "openai-chat", [Status(200, SSE_HEADERS), split(sse_body(TEXT_ANSWER), 64)],
         event_lines=True),
    # A route forced to send data: [DONE] to an AG-UI client: the reason ``auto`` leaves it out.
    Case("done-always-is-fatal", "openai-chat", [Status(200, SSE_HEADERS), split(sse_body(TEXT_ANSWER), 64)],
         done="always"),
]


@dataclass
class Session:
    results: dict[str, dict[str, Any]]
    requests: dict[str, list[Request]]  # by case id: what reached the upstream
    proxy_output: str


def install_client(node: str) -> None:
    if all((HERE / "node_modules" / name / "package.json").exists() for name in CLIENTS.values()):
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("node is installed but npm is not: cannot install @ag-ui/client (npm ci in tests/conformance)")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, f"npm ci in {HERE} failed:\n{done.stdout}\n{done.stderr}"


def official_client() -> str:
    """The ``node`` to run the client with, installed; a skip (a failure in CI) without Node."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("AGUI_PROXY_REQUIRE_NODE"):
            pytest.fail("node is not installed, and AGUI_PROXY_REQUIRE_NODE says the official client must run")
        pytest.skip("node is not installed: the official @ag-ui/client cannot run (CI installs Node)")
    install_client(node)
    return node


def run_node(node: str, script: str, tmp: Path, specs: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """``script`` (run_client.mjs, run_loop.mjs) on ``specs`` under the client ``version``: its results."""
    (tmp / "specs.json").write_text(json.dumps(specs), "utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("SUPPRESS_TRANSFORMATION_WARNINGS", "NODE_ENV")}
    done = subprocess.run([node, str(HERE / script), str(tmp / "specs.json"), str(tmp / "results.json"),
                           CLIENTS[version]],
                          cwd=HERE, env=env, capture_output=True, text=True, timeout=NODE_TIMEOUT, check=False)
    assert done.returncode == 0, f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    results: list[dict[str, Any]] = json.loads((tmp / "results.json").read_text("utf-8"))
    assert {r["clientVersion"] for r in results} <= {version}, "another client version ran than the one asked for"
    return results


def run_cases(tmp: Path, proxy: ProxyProcess, cases: list[Case], node: str,
              version: str) -> dict[str, dict[str, Any]]:
    specs = [{"id": case.id, "url": f"{proxy.url}/case/{i}", "headers": {"Authorization": f"Bearer {TOKEN}"},
              "threadId": f"thread-{i}", "runId": f"run-{i}",
              "messages": case.messages or [{"id": "u1", "role": "user", "content": "Hello"}],
              "tools": case.tools or [], "context": case.context or []}
             for i, case in enumerate(cases)]
    specs += [{"id": case.id, "url": f"{proxy.url}/cloud/{i}", "headers": {"Authorization": f"Bearer {TOKEN}"},
               "threadId": f"thread-cloud-{i}", "runId": f"run-cloud-{i}",
               "messages": [{"id": "u1", "role": "user", "content": "Weather in Paris and Rome?"}],
               "tools": [{"name": "get_weather", "description": "Weather in a city", "parameters": WEATHER_SCHEMA}],
               "context": []}
              for i, case in enumerate(CLOUD_CASES)]
    return {result["id"]: result for result in run_node(node, "run_client.mjs", tmp, specs, version)}


@pytest.fixture(scope="module", params=list(CLIENTS), ids=[f"client-{v}" for v in CLIENTS])
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    version: str = request.param
    node = official_client()
    cases = [recording_case(r) for r in registered_recordings()] + EXTRA_CASES
    tmp = tmp_path_factory.mktemp("conformance")
    with ScriptedUpstream() as upstream:
        for i, case in enumerate(cases):
            upstream.script_at(f"/case/{i}/", case.answer)
        for i, cloud in enumerate(CLOUD_CASES):
            upstream.script_at(cloud.prefix(i), cloud.answer(CHUNK // 8))
        config: dict[str, Any] = {
            "auth": {"bearer_tokens": [TOKEN]},
            "upstreams": {f"case{i}": {"provider": case.provider, "base_url": f"{upstream.url}/case/{i}",
                                       # Each case's answer is scripted once: no retry of its errors.
                                       "api_key": KEY, "model": "test-model", "retries": 0}
                          for i, case in enumerate(cases)},
            "routes": [{"path": f"/case/{i}", "upstream": f"case{i}", "done": case.done,
                        "event_lines": case.event_lines}
                       for i, case in enumerate(cases)],
        }
        config["upstreams"].update({f"cloud{i}": cloud.upstream(i, upstream.url, KEY)
                                    for i, cloud in enumerate(CLOUD_CASES)})
        config["routes"] += [{"path": f"/cloud/{i}", "upstream": f"cloud{i}", "reasoning": True}
                             for i in range(len(CLOUD_CASES))]
        with google_env(tmp) as env, start_proxy(tmp, config, env=env) as proxy:
            results = run_cases(tmp, proxy, cases, node, version)
            output = proxy.output()
        requests = {case.id: [r for r in upstream.requests if r.path.startswith(f"/case/{i}/")]
                    for i, case in enumerate(cases)}
        requests.update({cloud.id: [r for r in upstream.requests if r.path.startswith(cloud.prefix(i))]
                         for i, cloud in enumerate(CLOUD_CASES)})
        assert upstream.unscripted == [], [r.target for r in upstream.unscripted]
    yield Session(results, requests, output)


def assert_ids_echoed(result: dict[str, Any]) -> None:
    """The client's own threadId / runId on RUN_STARTED (with the protocol version) and RUN_FINISHED."""
    started, last = result["events"][0], result["events"][-1]
    assert started["type"] == "RUN_STARTED" and started["protocolVersion"] == PROTOCOL_VERSION
    assert (started["threadId"], started["runId"]) == (result["threadId"], result["runId"])
    if last["type"] == "RUN_FINISHED":
        assert (last["threadId"], last["runId"]) == (result["threadId"], result["runId"])


def clean(result: dict[str, Any]) -> None:
    """The run finished without a client error and without a single console warning."""
    assert result["error"] is None, f"the official client failed: {result['error']}"
    warnings = [c["text"] for c in result["console"]]
    assert not [w for w in warnings if "[ag-ui]" in w], f"[ag-ui] warnings: {warnings}"
    assert not warnings, f"the client wrote to the console: {warnings}"


@pytest.mark.parametrize("recording", recording_params())
def test_the_official_client_accepts_every_recorded_stream(session: Session, recording: Recording) -> None:
    result = session.results[recording.id]
    clean(result)
    expected = expected_outcome(recording)
    got = client_outcome(result)
    assert got.types == expected.types, "the client did not receive exactly the events the core makes"
    assert got.texts == expected.texts
    assert got.tool_calls == expected.tool_calls
    assert got.reasoning == expected.reasoning
    assert got.error_code == expected.error_code
    assert got.citations == expected.citations, "the client's messages do not hold the citations"
    assert got.results == expected.results
    if recording.id in in_stream_errors():
        assert got.error_code is not None, "a recording with an in-band provider error must end in RUN_ERROR"
    assert_ids_echoed(result)
    assert len(session.requests[recording.id]) == 1


@pytest.mark.parametrize("case_id", list(TRANSCRIPTS))
def test_the_official_client_holds_provider_tools_and_citations(session: Session, case_id: str) -> None:
    """Its assembled messages: the provider's calls with their results as tool messages after
    them, and each text message's citations in its metadata, exactly as the core emits them."""
    result = session.results[case_id]
    clean(result)
    name, data = TRANSCRIPTS[case_id]
    expected = expected_outcome_of(name, data())
    got = client_outcome(result)
    assert got == expected
    assert any(expected.citations or ()) or expected.results, "the transcript has neither"
    messages = result["newMessages"]
    answered = [m["toolCallId"] for m in messages if m["role"] == "tool"]
    for call_id in answered:  # each result after the call it answers
        at = next(i for i, m in enumerate(messages) if any(c["id"] == call_id for c in m.get("toolCalls") or ()))
        assert any(m["role"] == "tool" and m["toolCallId"] == call_id for m in messages[at + 1:])
    assert len(answered) == len(got.results or ())


@pytest.mark.parametrize("case", CLOUD_CASES, ids=[c.id for c in CLOUD_CASES])
def test_the_official_client_accepts_the_cloud_providers(session: Session, case: Any) -> None:
    """Bedrock's event stream and Vertex's Gemini and Claude streams, cut in small writes: the
    client receives exactly what the core makes of the same bytes, and the error codes."""
    result = session.results[case.id]
    clean(result)
    expected = outcome_of(case.reader(), case.data)
    got = client_outcome(result)
    assert got == expected
    assert_ids_echoed(result)
    (request,) = session.requests[case.id]
    if case.provider == "bedrock":
        assert request.headers["authorization"] == f"Bearer {KEY}"
    else:
        assert request.headers["authorization"].startswith("Bearer ya29.token-")
    if case.id == "bedrock/throttled-mid-stream":
        assert got.error_code == "upstream_rate_limited"


def test_an_upstream_500_reaches_the_client_as_run_error(session: Session) -> None:
    result = session.results["upstream-500"]
    clean(result)
    assert [e["type"] for e in result["events"]] == ["RUN_STARTED", "RUN_ERROR"]
    assert result["events"][-1]["code"] == "upstream_unavailable"
    assert "The server had an error" in result["events"][-1]["message"]
    assert result["newMessages"] == []


def test_the_clients_own_input_reaches_the_upstream(session: Session) -> None:
    result = session.results["history-tools-context"]
    clean(result)
    assert client_outcome(result).texts == ["Rome: 18 °C."]
    assert_ids_echoed(result)
    assert result["events"][-1]["type"] == "RUN_FINISHED"
    (request,) = session.requests["history-tools-context"]
    sent = request.json()
    assert sent["messages"] == [
        {"role": "system", "content": "You are a weather assistant.\n\nContext from the application:\n- units: metric"},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": HISTORY[2]["toolCalls"]},
        {"role": "tool", "tool_call_id": "call_1", "content": "12 °C"},
        {"role": "user", "content": "And in Rome?"},
    ]
    assert sent["tools"] == [{"type": "function", "function": {"name": "get_weather",
                                                               "description": "Weather in a city",
                                                               "parameters": WEATHER_SCHEMA}}]
    assert request.headers["authorization"] == f"Bearer {KEY}"  # the client's token stays with the proxy


def test_event_lines_are_read_by_the_official_client(session: Session) -> None:
    result = session.results["event-lines"]
    clean(result)
    assert_ids_echoed(result)
    assert [e["type"] for e in result["events"]] == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT",
                                                     "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert client_outcome(result).texts == ["Rome: 18 °C."]


def test_done_is_fatal_to_the_official_client(session: Session) -> None:
    """Why ``done: auto`` sends no ``data: [DONE]`` to AG-UI clients (PROTOCOL.md section 1)."""
    result = session.results["done-always-is-fatal"]
    assert result["error"] is not None and "[DONE]" in result["error"] and "JSON" in result["error"], result["error"]


def test_no_key_or_token_in_the_proxy_logs(session: Session) -> None:
    assert KEY not in session.proxy_output and TOKEN not in session.proxy_output
