"""OpenTelemetry spans of the proxy, captured with the SDK's in-memory exporter.

The app runs in-process (so its spans reach the test's provider) in front of a real scripted
upstream on loopback: a server span per request, a client span per upstream try with the GenAI
attributes, retries and fallbacks as events, W3C trace context in and (where configured) out,
and never a key, a token or a message.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from agui_proxy.app.proxy import AGUIProxyMiddleware, create_app
from agui_proxy.config import config_from_dict
from agui_proxy.errors import ConfigError

from ..support.agui_check import assert_valid_run, parse_frames, text_of
from ..support.asgi import Response, request
from ..support.openai_chat_streams import MODEL, SERVED_MODEL, TEXT, text_transcript
from ..support.otel_capture import by_kind, install
from ..support.upstream import ScriptedUpstream, body_response, sse_response

pytestmark = pytest.mark.integration
KEY = "sk-tracing-secret-key-123456"
TOKEN = "inbound-tracing-token-98765"
BODY = json.dumps({"params": {"messages": [{"role": "user", "content": "a private question about Paris"}]}}).encode()
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"


def proxy(upstream: ScriptedUpstream, *, tracing: dict[str, Any] | None = None, fallback: bool = False,
          logging_section: dict[str, Any] | None = None) -> AGUIProxyMiddleware:
    upstreams: dict[str, Any] = {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1",
                                            "api_key": KEY, "model": MODEL, "retries": {"max": 1, "backoff": 0}}}
    route: dict[str, Any] = {"path": "/api/agent", "upstream": "openai"}
    if fallback:
        upstreams["backup"] = {"provider": "anthropic", "base_url": f"{upstream.url}/backup/v1", "api_key": KEY,
                               "model": "claude-x", "retries": 0}
        upstreams["spare"] = {"provider": "openai-chat", "base_url": f"{upstream.url}/spare/v1", "api_key": KEY,
                              "model": "spare-model", "retries": 0}
        route["fallbacks"] = ["backup", "spare"]
    return create_app(config_from_dict({
        "auth": {"bearer_tokens": [TOKEN]},
        "upstreams": upstreams, "routes": [route],
        "tracing": {"enabled": True, **(tracing or {})},
        "logging": logging_section or {},
    }, env={}))


def post(app: AGUIProxyMiddleware, *headers: tuple[str, str]) -> Response:
    async def go() -> Response:
        try:
            return await request(app, "POST", "/api/agent", body=BODY, headers=[
                ("content-type", "application/json"), ("authorization", f"Bearer {TOKEN}"), *headers])
        finally:
            await app.aclose()

    return anyio.run(go)


def every_value(span: Any) -> str:
    """Everything a span says (name, attributes, events), as text."""
    parts = [span.name, json.dumps(dict(span.attributes), default=str)]
    parts += [f"{e.name} {json.dumps(dict(e.attributes), default=str)}" for e in span.events]
    return "\n".join(parts)


def test_a_run_is_a_server_span_with_a_genai_client_span(up: ScriptedUpstream,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    exporter = install()
    up.script(sse_response(text_transcript()))
    with caplog.at_level(logging.INFO, logger="agui_proxy.access"):
        reply = post(proxy(up), ("x-request-id", "traced-1"))
    assert reply.status == 200
    events, _ = parse_frames(reply.body)
    assert_valid_run(events)
    assert text_of(events) == TEXT
    (server,) = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    (client,) = by_kind(exporter.get_finished_spans(), SpanKind.CLIENT)
    assert server.name == "POST /api/agent"
    assert dict(server.attributes) == {
        "http.request.method": "POST", "http.route": "/api/agent", "url.path": "/api/agent",
        "agui_proxy.request_id": "traced-1", "http.response.status_code": 200, "agui_proxy.outcome": "ok",
        "agui_proxy.upstream": "openai", "agui_proxy.first_event_ms": server.attributes["agui_proxy.first_event_ms"]}
    assert server.status.status_code == StatusCode.UNSET
    assert client.name == f"chat {MODEL}"
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    attributes = dict(client.attributes)
    assert attributes.pop("agui_proxy.time_to_first_token_ms") >= 0
    assert attributes == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": MODEL,
        "gen_ai.response.model": SERVED_MODEL, "gen_ai.usage.input_tokens": 31, "gen_ai.usage.output_tokens": 9,
        "gen_ai.response.finish_reasons": ("stop",), "server.address": "127.0.0.1", "server.port": up.port,
        "agui_proxy.upstream": "openai", "agui_proxy.try": 1}
    (first_token,) = client.events
    assert first_token.name == "first_token"
    assert client.start_time <= first_token.timestamp <= client.end_time
    # The trace id is in the access line.
    (record,) = [r for r in caplog.records if r.name == "agui_proxy.access"]
    assert record.fields["trace_id"] == format_trace_id(server.context.trace_id)  # type: ignore[attr-defined]
    assert f"trace_id={format_trace_id(server.context.trace_id)}" in record.getMessage()


def test_retries_and_fallbacks_are_tries_and_events(up: ScriptedUpstream) -> None:
    exporter = install()
    overloaded = body_response(503, {"error": {"message": "overloaded", "type": "server_error"}})
    up.script_at("/v1/", overloaded)
    up.script_at("/v1/", overloaded)  # the one retry
    up.script_at("/backup/", body_response(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                               "message": "no"}}))
    up.script_at("/spare/", sse_response(text_transcript()))
    reply = post(proxy(up, fallback=True))
    assert reply.status == 200
    (server,) = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    tries = by_kind(exporter.get_finished_spans(), SpanKind.CLIENT)
    assert [(t.name, t.attributes["agui_proxy.try"], t.attributes.get("error.type"),
             t.attributes.get("http.response.status_code"), t.status.status_code) for t in tries] == [
        (f"chat {MODEL}", 1, "upstream_unavailable", 503, StatusCode.ERROR),
        (f"chat {MODEL}", 2, "upstream_unavailable", 503, StatusCode.ERROR),
        ("chat claude-x", 3, "upstream_rejected", 400, StatusCode.ERROR),
        ("chat spare-model", 4, None, None, StatusCode.UNSET)]
    assert tries[2].attributes["gen_ai.provider.name"] == "anthropic"
    assert all(t.parent is not None and t.parent.span_id == server.context.span_id for t in tries)
    assert [(e.name, dict(e.attributes)) for e in server.events] == [
        ("retry", {"agui_proxy.upstream": "openai", "agui_proxy.retry": 1, "agui_proxy.backoff_s": 0.0,
                   "error.type": "upstream_unavailable"}),
        ("fallback", {"agui_proxy.from_upstream": "openai", "agui_proxy.to_upstream": "backup"}),
        ("fallback", {"agui_proxy.from_upstream": "backup", "agui_proxy.to_upstream": "spare"})]
    assert server.attributes["agui_proxy.upstream"] == "spare"
    # Only the try that answered has a first token.
    assert [[e.name for e in t.events] for t in tries] == [[], [], [], ["first_token"]]


def test_a_failed_run_marks_the_server_span(up: ScriptedUpstream) -> None:
    exporter = install()
    up.script(body_response(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))
    reply = post(proxy(up))
    assert reply.status == 200  # the error is in-band
    (server,) = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    (client,) = by_kind(exporter.get_finished_spans(), SpanKind.CLIENT)
    assert server.attributes["error.type"] == "upstream_auth_failed"
    assert server.status.status_code == StatusCode.ERROR
    assert client.attributes["http.response.status_code"] == 401
    assert KEY not in every_value(server) + every_value(client)


def test_the_clients_traceparent_is_continued_and_propagated_where_configured(up: ScriptedUpstream) -> None:
    exporter = install()
    up.script(sse_response(text_transcript()))
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    post(proxy(up, tracing={"propagate_to": ["openai"]}), ("traceparent", traceparent))
    (server,) = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    (client,) = by_kind(exporter.get_finished_spans(), SpanKind.CLIENT)
    assert format_trace_id(server.context.trace_id) == CLIENT_TRACE
    assert server.parent is not None and format_span_id(server.parent.span_id) == CLIENT_SPAN
    (sent,) = up.requests
    assert sent.headers["traceparent"] == \
        f"00-{CLIENT_TRACE}-{format_span_id(client.context.span_id)}-01"


def test_untrusted_or_unlisted_means_a_new_trace_and_no_header_upstream(up: ScriptedUpstream) -> None:
    exporter = install()
    up.script(sse_response(text_transcript()))
    post(proxy(up, tracing={"trust_traceparent": False}), ("traceparent", f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"))
    (server,) = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    assert format_trace_id(server.context.trace_id) != CLIENT_TRACE and server.parent is None
    (sent,) = up.requests
    assert "traceparent" not in sent.headers


@pytest.mark.parametrize("debug_content", [False, True])
def test_no_secret_ever_and_content_only_with_debug_content(up: ScriptedUpstream, debug_content: bool) -> None:
    exporter = install()
    up.script(sse_response(text_transcript()))
    app = proxy(up, tracing={"headers": {"authorization": "Bearer collector-secret-555"}},
                logging_section={"debug_content": debug_content})
    post(app, ("x-api-key", KEY))
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    said = "\n".join(every_value(span) for span in spans)
    for secret in (KEY, TOKEN, "collector-secret-555"):
        assert secret not in said
    assert ("a private question about Paris" in said) is debug_content
    assert ("Bonjour" in said) is debug_content


def test_probes_and_metrics_make_no_spans(up: ScriptedUpstream) -> None:
    exporter = install()
    app = proxy(up)

    async def go() -> list[int]:
        try:
            return [(await request(app, "GET", path)).status for path in ("/healthz", "/metrics")]
        finally:
            await app.aclose()

    assert anyio.run(go) == [200, 200]
    assert exporter.get_finished_spans() == ()


def test_tracing_asked_for_without_the_sdk_is_a_config_error(monkeypatch: pytest.MonkeyPatch,
                                                             up: ScriptedUpstream) -> None:
    monkeypatch.setattr("agui_proxy.tracing.sdk_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"tracing.enabled: tracing is enabled but OpenTelemetry is not "
                                          r"installed: pip install 'agui-proxy\[otel\]'"):
        proxy(up)


OFF = """
import sys, anyio
from agui_proxy import create_app
from agui_proxy.config import default_config
from tests.support.asgi import request
app = create_app(default_config())
async def go():
    reply = await request(app, "POST", "/api/agent", body=b'{"params":{"messages":[{"role":"user","content":"hi"}]}}',
                          headers=[("content-type", "application/json")])
    await app.aclose()
    return reply.status
assert anyio.run(go) == 200
print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
"""


def test_off_imports_no_opentelemetry() -> None:
    done = subprocess.run([sys.executable, "-c", OFF], capture_output=True, text=True, timeout=60, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
