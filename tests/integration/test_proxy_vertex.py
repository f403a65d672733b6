"""The real proxy (its CLI) in front of a loopback Vertex AI, with its tokens from a loopback
Google token endpoint: Application Default Credentials from a service account file generated
here, whose ``token_uri`` points at that endpoint (tests/support/gcp.py).  Nothing reaches
Google (the metadata server is never asked, gcloud's files point at an empty directory).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import reasoning_of, text_of, tool_calls_of
from ..support.gcp import TokenEndpoint, public_pem_of, service_account_file
from ..support.proxy import (
    ProxyProcess,
    ProxySetup,
    Reply,
    assert_no_secret,
    post,
    sse_events,
    sse_run_error,
)
from ..support.upstream import SSE_HEADERS, Chunk, End, ScriptedUpstream, Status, body_response, sse_bytes

pytest.importorskip("google.auth", reason="the gcp extra (google-auth) is not installed")
pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

PREFIX = "/v1/projects/my-project/locations/europe-west4/publishers"
GEMINI_PATH = f"{PREFIX}/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
CLAUDE_PATH = f"{PREFIX}/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
NO_GOOGLE = {"NO_GCE_CHECK": "true", "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gcp")


@pytest.fixture(scope="module")
def tokens(files: Path) -> Iterator[tuple[TokenEndpoint, Path, str]]:
    with ScriptedUpstream() as server:
        endpoint = TokenEndpoint(server, b"")
        path, pem = service_account_file(files, endpoint.token_uri)
        endpoint.public_pem = public_pem_of(pem)
        yield endpoint, path, pem


def vertex_config(upstream_url: str) -> dict[str, Any]:
    common = {"provider": "vertex", "project": "my-project", "location": "europe-west4", "base_url": upstream_url,
              "retries": 0}
    return {
        "logging": {"level": "debug"},
        "upstreams": {"gemini": {**common, "model": "gemini-2.5-pro"},
                      "claude": {**common, "model": "claude-sonnet-4-5@20250929"},
                      "short-lived": {**common, "model": "gemini-2.5-pro"}},  # the expiry test's own tokens
        "routes": [{"path": "/api/gemini", "upstream": "gemini", "reasoning": True},
                   {"path": "/api/claude", "upstream": "claude", "reasoning": True},
                   {"path": "/api/short-lived", "upstream": "short-lived"}],
    }


def google_env(files: Path, key_file: Path | None) -> dict[str, str]:
    env = {**NO_GOOGLE, "CLOUDSDK_CONFIG": str(files / "no-gcloud")}
    if key_file is not None:
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(key_file)
    return env


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream, tokens: tuple[TokenEndpoint, Path, str], files: Path) -> ProxySetup:
    return ProxySetup(vertex_config(upstream.url), env=google_env(files, tokens[1]))


@pytest.fixture
def endpoint(tokens: tuple[TokenEndpoint, Path, str]) -> TokenEndpoint:
    return tokens[0]


def secrets(tokens: TokenEndpoint, pem: str) -> list[str]:
    body = "".join(pem.splitlines()[1:-1])  # the key's base64 text, line breaks aside
    return [*tokens.issued, body[:400], body[-400:]]


def gemini_chunk(*parts: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None,
                 ) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-2.5-pro"}
    if usage:
        chunk["usageMetadata"] = usage
    return chunk


def gemini_answer(*chunks: dict[str, Any]) -> list[Any]:
    return [Status(200, SSE_HEADERS), Chunk(sse_bytes(*chunks).replace(b"\n", b"\r\n")), End()]


def claude_answer(*payloads: dict[str, Any]) -> list[Any]:
    return [Status(200, SSE_HEADERS), Chunk(sse_bytes(*payloads, event_lines=True)), End()]


def ask(proxy: ProxyProcess, route: str, body: dict[str, Any]) -> Reply:
    return post(proxy.url + route, body)


def test_gemini_text_parallel_calls_and_usage(proxy: ProxyProcess, up: ScriptedUpstream,
                                              endpoint: TokenEndpoint) -> None:
    up.script(gemini_answer(
        gemini_chunk({"text": "Thinking about it.", "thought": True}),
        gemini_chunk({"text": "Both: "}),
        gemini_chunk({"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
                     {"functionCall": {"name": "weather", "args": {"city": "Rome"}}}, finish="STOP",
                     usage={"promptTokenCount": 30, "candidatesTokenCount": 12, "thoughtsTokenCount": 5,
                            "totalTokenCount": 47})))
    events = sse_events(ask(proxy, "/api/gemini", {"params": {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Paris and Rome?"}],
        "tools": {"openai": [{"type": "function", "function": {"name": "weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}}]}}}))
    assert events[-1]["type"] == "RUN_FINISHED", events[-1]
    assert reasoning_of(events) == "Thinking about it."
    assert text_of(events) == "Both: "
    assert [(n, json.loads(a)) for _, n, a in tool_calls_of(events)] == [("weather", {"city": "Paris"}),
                                                                         ("weather", {"city": "Rome"})]
    [usage] = events[-1]["usage"]
    assert (usage["provider"], usage["inputTokens"], usage["outputTokens"]) == ("gemini", 30, 17)
    [request] = up.requests
    assert (request.method, request.target) == ("POST", GEMINI_PATH)
    assert request.headers["authorization"] in {f"Bearer {t}" for t in endpoint.issued}
    assert "x-goog-api-key" not in request.headers
    body = request.json()
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Paris and Rome?"}]}]


TOOLS = [{"name": "weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def agui(run: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"threadId": "thread-v", "runId": run, "state": {}, "context": [], "forwardedProps": {}, "tools": TOOLS,
            "messages": messages}


def block(index: int, content: dict[str, Any], *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "content_block_start", "index": index, "content_block": content},
            *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
            {"type": "content_block_stop", "index": index}]


def test_claude_two_turn_tool_loop(proxy: ProxyProcess, up: ScriptedUpstream, endpoint: TokenEndpoint) -> None:
    """Thinking and two parallel calls from Claude on Vertex, then the second turn checked field
    by field: the Anthropic body with Vertex's version, no model, the signed thinking, both results."""
    up.script(claude_answer(
        {"type": "message_start", "message": {"model": "claude-sonnet-4-5", "usage": {
            "input_tokens": 20, "cache_read_input_tokens": 100, "output_tokens": 1}}},
        *block(0, {"type": "thinking", "thinking": ""}, {"type": "thinking_delta", "thinking": "Two cities."},
               {"type": "signature_delta", "signature": "EqQBvertex-sig=="}),
        *block(1, {"type": "tool_use", "id": "toolu_P", "name": "weather", "input": {}},
               {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'}),
        *block(2, {"type": "tool_use", "id": "toolu_R", "name": "weather", "input": {}},
               {"type": "input_json_delta", "partial_json": '{"city": "Rome"}'}),
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}},
        {"type": "message_stop"}))
    question = {"id": "u1", "role": "user", "content": "Paris and Rome?"}
    events = sse_events(ask(proxy, "/api/claude", agui("run-1", [question])), done=False)
    calls = tool_calls_of(events)
    assert [c for c, _, _ in calls] == ["toolu_P", "toolu_R"]
    assert events[-1]["usage"][0]["inputTokens"] == 120
    [signature] = [e["encryptedValue"] for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]

    up.script(claude_answer(
        {"type": "message_start", "message": {"model": "claude-sonnet-4-5", "usage": {"input_tokens": 50}}},
        *block(0, {"type": "text", "text": ""}, {"type": "text_delta", "text": "18°C and 24°C."}),
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 8}},
        {"type": "message_stop"}))
    events = sse_events(ask(proxy, "/api/claude", agui("run-2", [
        question, {"id": "r1", "role": "reasoning", "content": "Two cities.", "encryptedValue": signature},
        {"id": "a1", "role": "assistant", "toolCalls": [
            {"id": c, "type": "function", "function": {"name": n, "arguments": a}} for c, n, a in calls]},
        {"id": "t1", "role": "tool", "toolCallId": "toolu_P", "content": "18°C"},
        {"id": "t2", "role": "tool", "toolCallId": "toolu_R", "content": "24°C"}])), done=False)
    assert text_of(events) == "18°C and 24°C."

    first, second = up.requests
    for request in (first, second):
        assert (request.method, request.target) == ("POST", CLAUDE_PATH)
        assert request.headers["authorization"] in {f"Bearer {t}" for t in endpoint.issued}
        assert "x-api-key" not in request.headers and "anthropic-version" not in request.headers
    tools = [{"name": "weather", "description": "Weather in a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    assert second.json() == {
        "anthropic_version": "vertex-2023-10-16", "max_tokens": 4000, "stream": True, "tools": tools,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Two cities.", "signature": "EqQBvertex-sig=="},
                {"type": "tool_use", "id": "toolu_P", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_R", "name": "weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_P", "content": "18°C"},
                                         {"type": "tool_result", "tool_use_id": "toolu_R", "content": "24°C"}]},
        ]}


def test_an_expiring_token_is_refreshed_before_it_is_used(proxy: ProxyProcess, up: ScriptedUpstream,
                                                          endpoint: TokenEndpoint) -> None:
    """Tokens issued a minute from expiry count as expired (google-auth refreshes minutes ahead):
    each request of this upstream gets a new one from the token endpoint, while the other
    upstreams' hour-long tokens are used again and again."""
    hi = {"params": {"messages": [{"role": "user", "content": "hi"}]}}
    up.script(gemini_answer(gemini_chunk({"text": "ok"}, finish="STOP")))
    sse_events(ask(proxy, "/api/gemini", hi))  # the gemini upstream has its hour-long token
    endpoint.expires_in = 60
    before = len(endpoint.issued)
    try:
        used = []
        for _ in range(3):
            up.script(gemini_answer(gemini_chunk({"text": "ok"}, finish="STOP")))
            sse_events(ask(proxy, "/api/short-lived", hi))
            used.append(up.requests[-1].headers["authorization"])
    finally:
        endpoint.expires_in = 3600
    assert used == [f"Bearer {token}" for token in endpoint.issued[before:]]
    assert len(set(used)) == 3
    up.script(gemini_answer(gemini_chunk({"text": "ok"}, finish="STOP")))
    sse_events(ask(proxy, "/api/gemini", hi))
    assert len(endpoint.issued) == before + 3  # the gemini upstream's token is still good: no new one


def test_a_401_refreshes_the_token_and_tries_once_more(proxy: ProxyProcess, up: ScriptedUpstream,
                                                       endpoint: TokenEndpoint) -> None:
    up.script(body_response(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                            "status": "UNAUTHENTICATED"}}))
    up.script(gemini_answer(gemini_chunk({"text": "fresh"}, finish="STOP")))
    events = sse_events(ask(proxy, "/api/gemini", {"params": {"messages": [{"role": "user", "content": "hi"}]}}))
    assert text_of(events) == "fresh"
    refused, accepted = up.requests
    assert refused.headers["authorization"] != accepted.headers["authorization"]
    assert accepted.headers["authorization"] == f"Bearer {endpoint.issued[-1]}"


def test_a_second_401_is_the_run_error(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    for _ in range(2):
        up.script(body_response(401, {"error": {"code": 401, "message": "Request had invalid authentication "
                                                "credentials.", "status": "UNAUTHENTICATED"}}))
    sse_run_error(ask(proxy, "/api/gemini", {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                  "upstream_auth_failed", "401", "UNAUTHENTICATED")
    assert len(up.requests) == 2  # once more, not again and again


@pytest.mark.parametrize(("route", "answer", "provider"), [
    ("/api/gemini", gemini_chunk({"text": "Whole."}, finish="STOP",
                                 usage={"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}),
     "gemini"),
    ("/api/claude", {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
                     "content": [{"type": "text", "text": "Whole."}], "stop_reason": "end_turn",
                     "usage": {"input_tokens": 3, "output_tokens": 2}}, "anthropic"),
])
def test_a_whole_json_answer_is_read_in_its_models_api(proxy: ProxyProcess, up: ScriptedUpstream, route: str,
                                                       answer: dict[str, Any], provider: str) -> None:
    # A gateway in front of Vertex may answer the streaming request with the whole response.
    up.script(body_response(200, answer))
    events = sse_events(ask(proxy, route, {"params": {"messages": [{"role": "user", "content": "hi"}]}}))
    assert events[-1]["type"] == "RUN_FINISHED", events[-1]
    assert text_of(events) == "Whole."
    [usage] = events[-1]["usage"]
    assert (usage["provider"], usage["inputTokens"], usage["outputTokens"]) == (provider, 3, 2)

def test_no_credential_in_any_log_line(proxy: ProxyProcess, tokens: tuple[TokenEndpoint, Path, str]) -> None:
    endpoint, key_file, pem = tokens
    output = proxy.output()
    assert f"upstream gemini: Google OAuth access token from a service account key ({key_file}" in output
    assert_no_secret(output, *secrets(endpoint, pem))
    assert "Traceback" not in output
