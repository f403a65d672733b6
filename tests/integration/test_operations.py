"""Operating the real proxy (its CLI) in front of a scripted upstream: probes, /metrics after a
known sequence of requests, CORS, request ids and the access log.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import assert_valid_run, parse_frames, text_of
from ..support.metrics_text import Samples
from ..support.openai_chat_streams import MODEL, TEXT, TEXT_PIECES, text_transcript
from ..support.proxy import ProxyProcess, ProxySetup, Reply, eventually, open_stream, post, start_proxy
from ..support.upstream import (
    SSE_HEADERS,
    End,
    ScriptedUpstream,
    Signal,
    Status,
    WaitFor,
    body_response,
    sse_response,
    sse_steps,
)

pytestmark = pytest.mark.integration

KEY = "sk-test-SECRET-abcdefghijklmnop"
TOKEN = "agui-client-token-ops-5e8d2c7a91f3"
APP = "https://app.example.com"
# What the user says: it must never reach a log unless debug_content is on.
SECRET_QUESTION = "Is my diagnosis of PURPLE-ELEPHANT-7731 serious?"
BODY = {"params": {"messages": [{"role": "user", "content": SECRET_QUESTION}]}}
AUTH = {"authorization": f"Bearer {TOKEN}"}


def proxy_config(upstream: ScriptedUpstream, **sections: Any) -> dict[str, Any]:
    return {
        "auth": {"bearer_tokens": ["${AGUI_PROXY_TOKEN}"]},
        # One scripted answer per request: the error cases here are not retried (retries are
        # counted in test_retries_and_fallbacks_are_counted_and_logged).
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1",
                                 "api_key": "${TEST_OPENAI_KEY}", "model": MODEL, "retries": 0}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
        **sections,
    }


ENV = {"AGUI_PROXY_TOKEN": TOKEN, "TEST_OPENAI_KEY": KEY}


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    config = proxy_config(upstream, logging={"format": "json"}, metrics={"require_token": True},
                          cors={"allow_origins": [APP]})
    return ProxySetup(config, env=ENV)


def access_lines(proxy: ProxyProcess) -> list[dict[str, Any]]:
    """The JSON access lines the proxy wrote to stdout."""
    lines = []
    for line in proxy.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == "agui_proxy.access":
                lines.append(record)
    return lines


def line_of(proxy: ProxyProcess, request_id: str) -> dict[str, Any]:
    """The one access line of ``request_id`` (fails if there are several)."""
    found = eventually(lambda: [r for r in access_lines(proxy) if r["request_id"] == request_id],
                       bool, f"the access line of {request_id}")
    assert len(found) == 1, found
    return found[0]


# -- probes -----------------------------------------------------------------------------------------


def test_probes_answer_without_a_token(proxy: ProxyProcess) -> None:
    health = post(f"{proxy.url}/healthz", b"", method="GET")
    assert (health.status, health.json()) == (200, {"status": "ok"})
    assert health.headers["content-type"] == "application/json"
    ready = post(f"{proxy.url}/readyz", b"", method="GET")
    assert (ready.status, ready.json()) == (200, {"status": "ready", "checks": {
        "config": True, "http_client": True, "accepting": True}})
    assert ready.headers["cache-control"] == "no-store"
    # Probes are not requests to the proxy's routes: no access line for them.  A refused request
    # after them is logged (waited for); lines are written as requests end, so theirs would be earlier.
    marker = "after-the-probes-" + uuid.uuid4().hex
    assert post(f"{proxy.url}/api/agent", BODY, headers={"x-request-id": marker}).status == 401
    line_of(proxy, marker)
    assert not [r for r in access_lines(proxy) if r["path"] in ("/healthz", "/readyz")]


def test_metrics_can_require_the_token(proxy: ProxyProcess) -> None:
    refused = post(f"{proxy.url}/metrics", b"", method="GET")
    assert refused.status == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["error"]["type"] == "unauthorized"
    assert post(f"{proxy.url}/metrics", b"", method="GET", headers={"authorization": "Bearer wrong"}).status == 401
    scraped = post(f"{proxy.url}/metrics", b"", method="GET", headers=AUTH)
    assert scraped.status == 200
    assert scraped.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert Samples(scraped.body)["agui_proxy_active_streams"] == 0


# -- metrics after a known sequence ---------------------------------------------------------------------


def test_metrics_after_a_known_sequence(upstream: ScriptedUpstream, up: ScriptedUpstream, tmp_path: Path) -> None:
    """A success, an upstream HTTP error, an in-band error, a refusal, a stream held open, then read."""
    with start_proxy(tmp_path, proxy_config(upstream), env=ENV) as proxy:
        def scrape() -> Samples:
            reply = post(f"{proxy.url}/metrics", b"", method="GET")
            assert reply.status == 200
            return Samples(reply.body)

        def requests_seen(samples: Samples) -> float:
            return sum(samples.with_name("agui_proxy_requests_total").values())

        up.script(sse_response(text_transcript()))
        assert text_of(post(f"{proxy.url}/api/agent", BODY, headers=AUTH).events) == TEXT

        up.script(body_response(401, {"error": {"message": "Incorrect API key provided",
                                                "type": "invalid_request_error", "code": "invalid_api_key"}}))
        assert post(f"{proxy.url}/api/agent", BODY, headers=AUTH).events[-1]["code"] == "upstream_auth_failed"

        up.script(sse_response([*text_transcript()[:2], {"error": {"message": "overloaded", "type": "server_error"}}]))
        assert post(f"{proxy.url}/api/agent", BODY, headers=AUTH).events[-1]["code"] == "upstream_error"

        assert post(f"{proxy.url}/api/agent", {"params": {}}, headers=AUTH).status == 422

        # A stream held open upstream counts as active until it ends.
        held, release = threading.Event(), threading.Event()
        steps = sse_steps(text_transcript())
        up.script(Status(200, SSE_HEADERS), steps[:2], Signal(held), WaitFor(release), steps[2:], End())
        with open_stream(f"{proxy.url}/api/agent", BODY, headers=AUTH) as reader:
            reader.until("TEXT_MESSAGE_START")
            assert held.wait(5)
            assert scrape()["agui_proxy_active_streams"] == 1
            release.set()
            events, done = parse_frames(reader.rest())
        assert done and text_of(events) == TEXT

        s = eventually(scrape, lambda s: requests_seen(s) == 5, "five requests counted")
        labels = {"route": "/api/agent", "upstream": "openai"}
        assert s.get("agui_proxy_requests_total", **labels, outcome="ok") == 2
        assert s.get("agui_proxy_requests_total", **labels, outcome="error") == 2
        assert s.get("agui_proxy_requests_total", **labels, outcome="rejected") == 1
        assert s.with_name("agui_proxy_run_errors_total") == {
            frozenset({("upstream", "openai"), ("code", "upstream_auth_failed")}): 1,
            frozenset({("upstream", "openai"), ("code", "upstream_error")}): 1,
        }
        assert s.get("agui_proxy_tokens_total", upstream="openai", direction="input") == 2 * 31
        assert s.get("agui_proxy_tokens_total", upstream="openai", direction="output") == 2 * 9
        # Streamed bodies: two successes and the in-band error (the 401 had none).
        assert s.get("agui_proxy_upstream_first_byte_seconds_count", upstream="openai") == 3
        assert s.get("agui_proxy_first_event_seconds_count", upstream="openai") == 3
        assert s.get("agui_proxy_stream_duration_seconds_count", upstream="openai", outcome="ok") == 2
        assert s.get("agui_proxy_stream_duration_seconds_count", upstream="openai", outcome="error") == 2
        assert s["agui_proxy_active_streams"] == 0
        assert s.with_name("agui_proxy_upstream_retries_total") == {}
        assert s.with_name("agui_proxy_upstream_fallbacks_total") == {}
        assert len(up.requests) == 4


def test_retries_and_fallbacks_are_counted_and_logged(upstream: ScriptedUpstream, up: ScriptedUpstream,
                                                      tmp_path: Path) -> None:
    """The primary answers 503 twice (its try and its one retry); its fallback answers."""
    config = proxy_config(upstream, logging={"format": "json"})
    config["upstreams"]["openai"]["retries"] = {"max": 1, "backoff": 0}
    config["upstreams"]["backup"] = {"provider": "openai-chat", "base_url": f"{upstream.url}/backup/v1",
                                     "api_key": "${TEST_OPENAI_KEY}", "model": MODEL, "retries": 0}
    config["routes"][0]["fallbacks"] = ["backup"]
    with start_proxy(tmp_path, config, env=ENV) as proxy:
        for _ in range(2):
            up.script_at("/v1/", body_response(503, {"error": {"message": "overloaded", "type": "server_error"}}))
        up.script_at("/backup/", sse_response(text_transcript()))
        reply = post(f"{proxy.url}/api/agent", BODY, headers={**AUTH, "x-request-id": "fell-back"})
        assert text_of(reply.events) == TEXT
        assert [r.path for r in up.requests] == ["/v1/chat/completions", "/v1/chat/completions",
                                                 "/backup/v1/chat/completions"]

        line = line_of(proxy, "fell-back")
        assert (line["route"], line["upstream"], line["outcome"]) == ("/api/agent", "backup", "ok")
        s = Samples(post(f"{proxy.url}/metrics", b"", method="GET", headers=AUTH).body)
        assert s.with_name("agui_proxy_upstream_retries_total") == {frozenset({("upstream", "openai")}): 1}
        assert s.with_name("agui_proxy_upstream_fallbacks_total") == {
            frozenset({("route", "/api/agent"), ("from_upstream", "openai"), ("to_upstream", "backup")}): 1}
        assert s.get("agui_proxy_requests_total", route="/api/agent", upstream="backup", outcome="ok") == 1


# -- CORS ---------------------------------------------------------------------------------------------


def preflight(proxy: ProxyProcess, path: str, origin: str, method: str = "POST",
              headers: str = "authorization, content-type") -> Reply:
    return post(f"{proxy.url}{path}", b"", method="OPTIONS", headers={
        "origin": origin, "access-control-request-method": method, "access-control-request-headers": headers})


def test_a_preflight_from_an_allowed_origin(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    reply = preflight(proxy, "/api/agent", APP)
    assert reply.status == 204, reply.body
    assert reply.headers["access-control-allow-origin"] == APP
    assert reply.headers["access-control-allow-methods"] == "POST"
    assert reply.headers["access-control-allow-headers"] == "authorization, content-type"
    assert reply.headers["access-control-max-age"] == "600"
    assert "Origin" in reply.headers["vary"]
    metrics = preflight(proxy, "/metrics", APP, method="GET", headers="authorization")
    assert metrics.status == 204 and metrics.headers["access-control-allow-methods"] == "GET, HEAD"
    assert up.requests == []


@pytest.mark.parametrize(("origin", "method", "headers", "reason"), [
    ("https://evil.example", "POST", "content-type", "origin 'https://evil.example' is not in cors.allow_origins"),
    (APP, "PUT", "content-type", "this endpoint takes POST, not 'PUT'"),
    (APP, "POST", "content-type, x-debug-mode", "request header(s) x-debug-mode not in cors.allow_headers"),
])
def test_a_refused_preflight(proxy: ProxyProcess, up: ScriptedUpstream, origin: str, method: str, headers: str,
                             reason: str) -> None:
    reply = preflight(proxy, "/api/agent", origin, method, headers)
    assert reply.status == 403
    assert reply.json() == {"error": {"type": "cors_refused", "message": reason}}
    assert "access-control-allow-origin" not in reply.headers
    assert up.requests == []


def test_no_cross_origin_request_is_allowed_by_default(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    with start_proxy(tmp_path, proxy_config(upstream), env=ENV) as proxy:
        reply = preflight(proxy, "/api/agent", APP)
        assert reply.status == 403
        assert "cors.allow_origins is empty" in reply.json()["error"]["message"]
        refused = post(f"{proxy.url}/api/agent", BODY, headers={"origin": APP})
        assert refused.status == 401 and "access-control-allow-origin" not in refused.headers


def test_actual_responses_carry_the_grant(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    stream = post(f"{proxy.url}/api/agent", BODY, headers={**AUTH, "origin": APP})
    assert stream.status == 200 and text_of(stream.events) == TEXT
    assert stream.headers["access-control-allow-origin"] == APP
    assert stream.headers["access-control-expose-headers"] == "x-request-id, x-run-id"
    # An error must be readable by the page too, or it only sees "failed to fetch".
    refused = post(f"{proxy.url}/api/agent", BODY, headers={"origin": APP})
    assert refused.status == 401 and refused.headers["access-control-allow-origin"] == APP
    other = post(f"{proxy.url}/api/agent", BODY, headers={"origin": "https://evil.example"})
    assert other.status == 401 and "access-control-allow-origin" not in other.headers


# -- request ids ----------------------------------------------------------------------------------------


def test_the_request_id_is_echoed_on_streams_and_errors(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    replies = {
        "rid-stream-1": post(f"{proxy.url}/api/agent", BODY, headers={**AUTH, "x-request-id": "rid-stream-1"}),
        "rid-401": post(f"{proxy.url}/api/agent", BODY, headers={"x-request-id": "rid-401"}),
        "rid-422": post(f"{proxy.url}/api/agent", b"[]", headers={**AUTH, "x-request-id": "rid-422"}),
        "rid-405": post(f"{proxy.url}/api/agent", b"", method="GET", headers={"x-request-id": "rid-405"}),
        "rid-404": post(f"{proxy.url}/nowhere", b"{}", headers={"x-request-id": "rid-404"}),
        "rid-preflight": post(f"{proxy.url}/api/agent", b"", method="OPTIONS", headers={
            "x-request-id": "rid-preflight", "origin": APP, "access-control-request-method": "POST"}),
    }
    statuses = {rid: reply.status for rid, reply in replies.items()}
    assert statuses == {"rid-stream-1": 200, "rid-401": 401, "rid-422": 422, "rid-405": 405, "rid-404": 404,
                        "rid-preflight": 204}
    for rid, reply in replies.items():
        assert reply.headers["x-request-id"] == rid
        line = line_of(proxy, rid)
        assert line["status"] == reply.status
    assert_valid_run(replies["rid-stream-1"].events)


def test_an_unsafe_request_id_is_replaced(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    made = post(f"{proxy.url}/api/agent", BODY, headers={"x-request-id": "bad id\twith spaces"}).headers["x-request-id"]
    assert made != "bad id\twith spaces" and len(made) == 32
    assert line_of(proxy, made)["outcome"] == "rejected"
    fresh = post(f"{proxy.url}/api/agent", BODY).headers["x-request-id"]
    assert len(fresh) == 32 and fresh != made


# -- the access log -------------------------------------------------------------------------------------


def test_one_access_line_per_request_with_no_secret_and_no_content(proxy: ProxyProcess,
                                                                  up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    ok = post(f"{proxy.url}/api/agent", BODY, headers={**AUTH, "x-request-id": "log-ok"})
    assert text_of(ok.events) == TEXT
    up.script(body_response(429, {"error": {"message": f"Rate limit reached for key {KEY}", "type": "requests"}}))
    post(f"{proxy.url}/api/agent", BODY, headers={**AUTH, "x-request-id": "log-429"})
    post(f"{proxy.url}/api/agent", BODY, headers={"authorization": f"Bearer {TOKEN}x", "x-request-id": "log-401"})

    success = line_of(proxy, "log-ok")
    assert {k: success[k] for k in ("method", "path", "route", "upstream", "status", "outcome", "input_tokens",
                                    "output_tokens")} == {
        "method": "POST", "path": "/api/agent", "route": "/api/agent", "upstream": "openai", "status": 200,
        "outcome": "ok", "input_tokens": 31, "output_tokens": 9}
    assert 0 <= success["first_byte_ms"] <= success["first_event_ms"] <= success["duration_ms"]
    assert success["level"] == "INFO" and success["time"]
    limited = line_of(proxy, "log-429")
    assert (limited["outcome"], limited["error_code"]) == ("error", "upstream_rate_limited")
    refused = line_of(proxy, "log-401")
    assert (refused["status"], refused["outcome"], refused["error_code"]) == (401, "rejected", "unauthorized")

    output = proxy.output()
    for secret in (KEY, TOKEN, "PURPLE-ELEPHANT", *TEXT_PIECES[1:]):
        assert secret not in output, f"{secret!r} is in the log"
    # Every line of the log is one JSON object (uvicorn's own lines too).
    for line in proxy.stderr.splitlines():
        assert json.loads(line)["level"], line


def test_debug_content_and_the_plain_format(upstream: ScriptedUpstream, up: ScriptedUpstream, tmp_path: Path) -> None:
    config = proxy_config(upstream, logging={"format": "plain", "debug_content": True})
    with start_proxy(tmp_path, config, env=ENV) as proxy:
        up.script(sse_response(text_transcript()))
        assert text_of(post(f"{proxy.url}/api/agent", BODY, headers={**AUTH, "x-request-id": "dbg-1"}).events) == TEXT
        output = eventually(lambda: proxy.stdout, lambda out: "request_id=dbg-1 " in out, "the access line")
    (line,) = [line for line in output.splitlines() if "request_id=dbg-1 " in line]
    assert " INFO agui_proxy.access: request_id=dbg-1 method=POST path=/api/agent route=/api/agent " in line
    assert " status=200 outcome=ok " in line and " input_tokens=31 output_tokens=9 " in line
    assert "PURPLE-ELEPHANT-7731" in line, "debug_content logs the request"
    assert "Bonjour" in line, "debug_content logs the response"
    assert KEY not in proxy.output() and TOKEN not in proxy.output()
