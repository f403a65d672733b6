"""Faults through the real proxy (its CLI) and a loopback upstream scripted byte by byte.

Each timeout, each retryable status (retried, then given up on), the Retry-After rules, retries
that never happen once output has started, fallbacks taking over with the request rebuilt for the
fallback, a client that leaves before and after the first byte (the upstream sees the close; the
time is printed), keep-alive pings, the stream cap, the event-size cap, the model and header
rules, and no key in anything the proxy logged (it runs at debug level here).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ..support.agui_check import PING, assert_valid_run, parse_frames, text_of, types
from ..support.openai_chat_streams import MODEL, TEXT, TEXT_PIECES, chunk, openai_error, text_transcript
from ..support.proxy import (
    ProxyProcess,
    ProxySetup,
    RawStream,
    Reply,
    assert_no_secret,
    post,
    start_proxy,
    wait_for_output,
)
from ..support.upstream import (
    SSE_HEADERS,
    Chunk,
    Cut,
    End,
    Pause,
    RefusedPort,
    ScriptedUpstream,
    StalledPort,
    Status,
    body_response,
    sse_event,
    sse_response,
    sse_steps,
)

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "sk-test-PRIMARY-0123456789abcdef"
BACKUP_KEY = "sk-test-BACKUP-fedcba9876543210"
BACKUP_MODEL = "backup-model"
BACKUP_TEXT = "From the backup upstream."
MAX_EVENT = 4096
RETRY_AFTER_CAP = 1.5
FAST_RETRIES = {"max": 2, "backoff": 0.01, "max_backoff": 0.05, "max_retry_after": RETRY_AFTER_CAP}


@pytest.fixture(scope="module")
def stalled() -> Iterator[StalledPort]:
    with StalledPort() as port:
        yield port


def upstream_at(url: str, *, key: str = KEY, model: str = MODEL, **options: Any) -> dict[str, Any]:
    return {"provider": "openai-chat", "base_url": url, "api_key": key, "model": model, **options}


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream, refused: RefusedPort, stalled: StalledPort) -> ProxySetup:
    url = "${UPSTREAM_URL}"
    quick = {"connect": 1, "first_byte": 0.6, "idle": 0.6, "total": 5}
    config = {
        "limits": {"max_event_bytes": MAX_EVENT},
        "streams": {"keepalive": 0.25},
        "upstreams": {
            "primary": upstream_at(f"{url}/v1", timeouts=quick, retries=FAST_RETRIES),
            "backup": upstream_at(f"{url}/backup/v1", key=BACKUP_KEY, model=BACKUP_MODEL, timeouts=quick, retries=0),
            "refused": upstream_at(f"{refused.url}/v1", retries={"max": 1, "backoff": 0.01}),
            "stalled": upstream_at(f"{stalled.url}/v1", timeouts={"connect": 0.4}, retries=0),
            "trickle": upstream_at(f"{url}/v1", timeouts={"idle": 1.0, "total": 1.5}, retries=0),
            "patient": upstream_at(f"{url}/v1", timeouts={"first_byte": 10, "idle": 10}, retries=0),
        },
        "routes": [
            {"path": "/api/agent", "upstream": "primary"},
            {"path": "/api/fallback", "upstream": "primary", "fallbacks": ["backup"]},
            {"path": "/api/refused", "upstream": "refused", "fallbacks": ["backup"]},
            {"path": "/api/stalled", "upstream": "stalled"},
            {"path": "/api/trickle", "upstream": "trickle"},
            {"path": "/api/patient", "upstream": "patient"},
            {"path": "/api/models", "upstream": "primary", "allow_models": [MODEL, "gpt-4o"],
             "forward_headers": ["X-Request-Id"]},
        ],
    }
    return ProxySetup(config, env={"UPSTREAM_URL": upstream.url},
                     extra_args=["--log-level", "debug"])


BODY = {"params": {"messages": [{"role": "user", "content": "What is the weather in Paris?"}]}}


def call(proxy: ProxyProcess, path: str = "/api/agent", body: dict[str, Any] = BODY, **kw: Any) -> Reply:
    return post(proxy.url + path, body, **kw)


def run_events(reply: Reply) -> list[dict[str, Any]]:
    assert reply.status == 200, reply.body
    events, done = parse_frames(reply.body)
    assert done, reply.body[-200:]
    assert_valid_run(events)
    assert_no_secret(reply.body, KEY, BACKUP_KEY)
    return events


def finished(reply: Reply, text: str = TEXT) -> list[dict[str, Any]]:
    """A clean run: one RUN_STARTED, the text, RUN_FINISHED, and no trace of failed tries."""
    events = run_events(reply)
    assert [e["type"] for e in events].count("RUN_STARTED") == 1
    assert events[-1]["type"] == "RUN_FINISHED", events[-1]
    assert text_of(events) == text
    return events


def failed(reply: Reply, code: str, *words: str) -> list[dict[str, Any]]:
    events = run_events(reply)
    assert events[-1]["type"] == "RUN_ERROR", events[-1]
    assert events[-1]["code"] == code, events[-1]
    for word in words:
        assert word in events[-1]["message"], events[-1]
    return events


def backup_transcript() -> list[dict[str, Any]]:
    return [chunk({"role": "assistant", "content": ""}), chunk({"content": BACKUP_TEXT}), chunk({}, "stop")]


# -- timeouts ------------------------------------------------------------------------------------------


def test_connect_timeout(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    events = failed(call(proxy, "/api/stalled"), "upstream_timeout", "timeouts.connect", "0.4 s")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]


def test_first_byte_timeout(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Pause(10), sse_response(text_transcript()))
    events = failed(call(proxy), "upstream_timeout", "timeouts.first_byte", "0.6 s")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    (request,) = up.requests  # not retried: a slow upstream is not made faster by asking again
    up.wait_closed(request.connection)


def test_idle_timeout_before_output(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), Chunk(sse_event(text_transcript()[0])), Pause(10), End())
    events = failed(call(proxy), "upstream_timeout", "timeouts.idle", "went silent for 0.6 s")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    assert len(up.requests) == 1


def test_idle_timeout_after_output(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()[:3], done=False), Pause(10), End())
    events = failed(call(proxy), "upstream_timeout", "timeouts.idle")
    assert text_of(events) == "".join(TEXT_PIECES[:2])
    assert types(events)[-2:] == ["TEXT_MESSAGE_END", "RUN_ERROR"]
    (request,) = up.requests
    up.wait_closed(request.connection)


def test_total_timeout_while_the_upstream_keeps_trickling(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """Comments every 0.1 s keep the idle timeout (1 s) away; the total (1.5 s) still ends it."""
    trickle = [step for _ in range(40) for step in (Pause(0.1), Chunk(b": still thinking\n\n"))]
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()[:2], done=False), trickle, End())
    events = failed(call(proxy, "/api/trickle"), "upstream_timeout", "timeouts.total", "1.5 s")
    assert text_of(events) == TEXT_PIECES[0]
    (request,) = up.requests
    up.wait_closed(request.connection)


# -- retries ------------------------------------------------------------------------------------------------

RETRYABLE = [429, 500, 502, 503, 504, 529]


@pytest.mark.parametrize("status", RETRYABLE)
def test_retryable_status_then_success(proxy: ProxyProcess, up: ScriptedUpstream, status: int) -> None:
    up.script(body_response(status, openai_error(f"try later ({status})")))
    up.script(sse_response(text_transcript()))
    events = finished(call(proxy))
    assert "RUN_ERROR" not in types(events)
    first, second = up.requests
    assert (first.path, second.path) == ("/v1/chat/completions", "/v1/chat/completions")
    assert first.json() == second.json()


@pytest.mark.parametrize("status", RETRYABLE)
def test_retryable_status_every_time(proxy: ProxyProcess, up: ScriptedUpstream, status: int) -> None:
    for _ in range(3):
        up.script(body_response(status, openai_error(f"still failing ({status})")))
    code = "upstream_rate_limited" if status == 429 else "upstream_unavailable"
    events = failed(call(proxy), code, str(status), f"still failing ({status})")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    assert len(up.requests) == 3  # the first try and retries.max = 2


@pytest.mark.parametrize(("status", "code"), [(400, "upstream_rejected"), (401, "upstream_auth_failed"),
                                              (404, "upstream_rejected"), (501, "upstream_unavailable")])
def test_other_statuses_are_not_retried(proxy: ProxyProcess, up: ScriptedUpstream, status: int, code: str) -> None:
    up.script(body_response(status, openai_error("no")))
    failed(call(proxy), code, str(status))
    assert len(up.requests) == 1


def test_connection_dropped_before_the_status_is_retried(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Cut())
    up.script(sse_response(text_transcript()))
    finished(call(proxy))
    assert len(up.requests) == 2


def test_connection_dropped_before_any_output_is_retried(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """A 200 whose first chunk (role only) produced nothing for the client, then a cut."""
    up.script(Status(200, SSE_HEADERS), Chunk(sse_event(text_transcript()[0])), Cut())
    up.script(sse_response(text_transcript()))
    finished(call(proxy))
    assert len(up.requests) == 2


def test_never_retried_once_output_has_started(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()[:3], done=False), Cut())
    events = failed(call(proxy), "upstream_truncated")
    assert text_of(events) == "".join(TEXT_PIECES[:2])
    assert len(up.requests) == 1


def test_in_band_error_before_output_is_not_retried(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response([text_transcript()[0], openai_error("The model is overloaded.")]))
    failed(call(proxy), "upstream_error", "The model is overloaded.")
    assert len(up.requests) == 1


def test_retry_after_is_waited_for(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(429, openai_error("slow down"), headers={"retry-after": "1"}))
    up.script(sse_response(text_transcript()))
    finished(call(proxy))
    first, second = up.requests
    waited = second.received_at - first.received_at
    print(f"retried {waited:.3f} s after a 429 with Retry-After: 1")
    assert waited >= 0.99  # a lower bound only: the proxy sleeps at least that long


def test_retry_after_past_the_cap_is_not_waited_for(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(429, openai_error("come back in a minute"), headers={"retry-after": "60"}))
    failed(call(proxy), "upstream_rate_limited", "come back in a minute")
    assert len(up.requests) == 1


# -- fallbacks -------------------------------------------------------------------------------------------


def test_fallback_takes_over_after_the_retries(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    for _ in range(3):
        up.script(body_response(503, openai_error("primary down")))
    up.script(sse_response(backup_transcript()))
    body = {"params": {"system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 99}}
    finished(call(proxy, "/api/fallback", body), BACKUP_TEXT)
    *primary, backup = up.requests
    assert [r.path for r in primary] == ["/v1/chat/completions"] * 3
    assert backup.path == "/backup/v1/chat/completions"
    # Rebuilt for the fallback: its own model and key, the same conversation.
    assert backup.headers["authorization"] == f"Bearer {BACKUP_KEY}"
    assert primary[0].headers["authorization"] == f"Bearer {KEY}"
    assert backup.json()["model"] == BACKUP_MODEL and primary[0].json()["model"] == MODEL
    assert backup.json()["messages"] == primary[0].json()["messages"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert backup.json()["max_tokens"] == 99


def test_fallback_at_once_when_retrying_cannot_help(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(401, openai_error("Incorrect API key provided")))
    up.script(sse_response(backup_transcript()))
    finished(call(proxy, "/api/fallback"), BACKUP_TEXT)
    assert [r.path for r in up.requests] == ["/v1/chat/completions", "/backup/v1/chat/completions"]


def test_fallback_after_an_in_band_error_before_output(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response([text_transcript()[0], openai_error("Overloaded")]))
    up.script(sse_response(backup_transcript()))
    finished(call(proxy, "/api/fallback"), BACKUP_TEXT)
    assert len(up.requests) == 2


def test_fallback_after_a_refused_connection(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(backup_transcript()))
    finished(call(proxy, "/api/refused"), BACKUP_TEXT)
    (request,) = up.requests
    assert request.path == "/backup/v1/chat/completions"


def test_when_the_fallback_fails_too_its_error_ends_the_run(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    for _ in range(3):
        up.script(body_response(503, openai_error("primary down")))
    up.script(body_response(500, openai_error("backup down too")))
    events = failed(call(proxy, "/api/fallback"), "upstream_unavailable", "500", "backup down too")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    assert len(up.requests) == 4


def test_no_fallback_once_output_has_started(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()[:2], done=False), Cut())
    events = failed(call(proxy, "/api/fallback"), "upstream_truncated")
    assert text_of(events) == TEXT_PIECES[0]
    assert len(up.requests) == 1


# -- caps -------------------------------------------------------------------------------------------------


def test_an_upstream_event_over_the_size_cap(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    huge = chunk({"content": "x" * (2 * MAX_EVENT)})
    up.script(Status(200, SSE_HEADERS), Chunk(sse_event(text_transcript()[0])), Chunk(sse_event(huge)), Pause(10))
    events = failed(call(proxy), "upstream_protocol_error", str(MAX_EVENT))
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    (request,) = up.requests
    up.wait_closed(request.connection)


# -- a client that leaves -------------------------------------------------------------------------------


def leave_and_measure(proxy: ProxyProcess, up: ScriptedUpstream, marker: bytes, path: str = "/api/patient") -> float:
    with RawStream(proxy.url, path, BODY) as client:
        client.read_until(marker)
        (request,) = up.wait_for_requests(1)
        left_at = client.close()
        closed_at = up.wait_closed(request.connection)
    return (closed_at - left_at) * 1000


def test_client_leaves_before_the_first_byte(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    hold = up.hold()
    up.script(hold, sse_response(text_transcript()))
    try:
        ms = leave_and_measure(proxy, up, b'"type":"RUN_STARTED"')
    finally:
        hold.release()
    print(f"upstream closed {ms:.1f} ms after the client left before the first byte")
    assert ms < 1000  # the 100 ms target is measured and printed, not asserted (shared machines)


def test_client_leaves_after_the_first_byte(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    hold = up.hold()
    up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()[:2], done=False), hold, End())
    try:
        ms = leave_and_measure(proxy, up, b'"delta":"Bonjour"')
    finally:
        hold.release()
    print(f"upstream closed {ms:.1f} ms after the client left mid-stream")
    assert ms < 1000


def test_client_leaves_during_a_retry_wait(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """Nothing keeps running for a client that is gone: the retry never goes out."""
    seen = proxy.output().count("retry 1 of 2")
    left = proxy.output().count("the client left")
    up.script(body_response(429, openai_error("slow down"), headers={"retry-after": "1"}))
    with RawStream(proxy.url, "/api/agent", BODY) as client:
        client.read_until(b'"type":"RUN_STARTED"')
        wait_for_output(proxy, "retry 1 of 2", seen)
    wait_for_output(proxy, "the client left", left)  # the run is over: nothing of it can send a request now
    assert len(up.requests) == 1


# -- keep-alive -------------------------------------------------------------------------------------------


def test_pings_while_the_upstream_is_silent(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Pause(1.2), sse_response(text_transcript()))
    reply = call(proxy, "/api/patient")
    finished(reply)
    before_answer = reply.body.split(b"TEXT_MESSAGE_START")[0]
    frames = before_answer.split(b"\n\n")
    assert frames.count(PING.encode()) >= 2, before_answer  # 1.2 s of silence, a ping every 0.25 s


# -- what the client may choose -------------------------------------------------------------------------


def with_model(model: Any) -> dict[str, Any]:
    return {"params": {**BODY["params"], "model": model}}


def test_allowed_model_is_used(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    finished(call(proxy, "/api/models", with_model("gpt-4o")))
    assert up.requests[0].json()["model"] == "gpt-4o"


@pytest.mark.parametrize(("path", "model", "words"), [
    ("/api/models", "gpt-5", ["'gpt-5'", f"{MODEL}, gpt-4o"]),
    ("/api/agent", "gpt-4o", ["does not let the client choose"]),
    ("/api/agent", ["gpt-4o"], ["params.model", "model name"]),
])
def test_other_models_are_refused(proxy: ProxyProcess, up: ScriptedUpstream, path: str, model: Any,
                                  words: list[str]) -> None:
    reply = call(proxy, path, with_model(model))
    assert reply.status == 422, reply.body
    error = reply.json()["error"]
    for word in words:
        assert word in error["message"], error
    assert up.requests == []


def test_url_and_key_in_the_body_are_ignored(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    body = {"params": {**BODY["params"], "base_url": "http://127.0.0.1:1/evil", "api_key": "sk-evil-0000000000",
                       "url": "http://127.0.0.1:1"}, "base_url": "http://127.0.0.1:1"}
    finished(call(proxy, "/api/agent", body))
    (request,) = up.requests
    assert request.path == "/v1/chat/completions" and request.headers["authorization"] == f"Bearer {KEY}"
    assert "evil" not in request.body.decode()


def test_only_listed_headers_reach_the_upstream(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    up.script(sse_response(text_transcript()))
    client_headers = {"x-request-id": "req-42", "x-other": "no", "cookie": "session=1", "authorization": "Bearer t",
                      "openai-organization": "org-evil"}
    finished(call(proxy, "/api/models", headers=client_headers))
    finished(call(proxy, "/api/agent", headers=client_headers))
    listed, unlisted = up.requests
    assert listed.headers["x-request-id"] == "req-42"
    assert "x-request-id" not in unlisted.headers
    for request in (listed, unlisted):
        assert request.headers["authorization"] == f"Bearer {KEY}"
        for name in ("x-other", "cookie", "openai-organization"):
            assert name not in request.headers


# -- the stream cap -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capped(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    config = {"streams": {"max_concurrent": 2, "retry_after": 7},
              "upstreams": {"primary": upstream_at(f"{upstream.url}/v1", retries=0)},
              "routes": [{"path": "/api/agent", "upstream": "primary"}]}
    with start_proxy(tmp_path_factory.mktemp("capped"), config) as running:
        yield running


def test_past_the_stream_cap_503_with_retry_after(capped: ProxyProcess, up: ScriptedUpstream) -> None:
    hold = up.hold()
    for _ in range(2):
        up.script(Status(200, SSE_HEADERS), sse_steps(text_transcript()[:2], done=False), hold,
                  sse_steps(text_transcript()[2:]), End())
    results: list[Reply] = []
    threads = [threading.Thread(target=lambda: results.append(call(capped, timeout=15))) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        up.wait_for_requests(2)
        refused = call(capped)
        assert refused.status == 503, refused.body
        assert refused.headers["retry-after"] == "7"
        assert refused.json()["error"]["type"] == "overloaded"
        assert "maximum of 2 streams" in refused.json()["error"]["message"]
    finally:
        hold.release()
        for thread in threads:
            thread.join(15)
    assert [text_of(finished(r)) for r in results] == [TEXT, TEXT]
    up.script(sse_response(text_transcript()))
    finished(call(capped))  # the slots are free again


def test_errors_echoing_keys_are_redacted_in_retry_and_fallback_logs(proxy: ProxyProcess,
                                                                     up: ScriptedUpstream) -> None:
    """Upstream errors that quote the keys pass through the retry and fallback log lines: the
    last test checks that no piece of a key reached the log."""
    seen = proxy.output().count("falling back to backup")
    up.script(body_response(503, openai_error(f"busy; your key {KEY} is fine")))
    up.script(sse_response([text_transcript()[0], openai_error(f"invalid x-api-key {KEY[3:20]}, also {BACKUP_KEY}")]))
    up.script(sse_response(backup_transcript()))
    reply = call(proxy, "/api/fallback")
    finished(reply, BACKUP_TEXT)
    output = wait_for_output(proxy, "falling back to backup", seen)
    assert "busy; your key [redacted] is fine" in output
    assert "invalid x-api-key [redacted], also [redacted]" in output


# -- last: what the proxy logged --------------------------------------------------------------------------


def test_logs_hold_no_key_and_no_traceback(proxy: ProxyProcess) -> None:
    """The proxy ran at debug level through every test above (httpx, httpcore and uvicorn logging)."""
    output = proxy.output()
    assert "retry 1 of 2" in output and "falling back to backup" in output
    assert "Traceback" not in output, output[-3000:]
    for secret in (KEY, BACKUP_KEY):
        for i in range(len(secret) - 7):
            assert secret[i:i + 8] not in output, f"{secret[i:i + 8]!r} is in the proxy's log"

