"""The real proxy (its CLI) exports its spans over OTLP/HTTP to a collector the test runs on
loopback, which decodes them with ``opentelemetry-proto``."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from ..support.agui_check import text_of
from ..support.openai_chat_streams import MODEL, SERVED_MODEL, TEXT, text_transcript
from ..support.proxy import HOST, post, start_proxy
from ..support.upstream import ScriptedUpstream, sse_response

pytestmark = pytest.mark.integration
COLLECTOR_TOKEN = "collector-token-4242"
BODY = b'{"params":{"messages":[{"role":"user","content":"hello"}]}}'


class Collector:
    """An OTLP/HTTP traces endpoint: keeps every export request it is sent, decoded."""

    def __init__(self) -> None:
        self.exports: list[tuple[dict[str, str], ExportTraceServiceRequest]] = []
        self.changed = threading.Condition()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                export = ExportTraceServiceRequest()
                export.ParseFromString(body)
                with collector.changed:
                    collector.exports.append(({k.lower(): v for k, v in self.headers.items()}, export))
                    collector.changed.notify_all()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/v1/traces"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def spans(self) -> list[Any]:
        return [span for _, export in self.exports for rs in export.resource_spans for ss in rs.scope_spans
                for span in ss.spans]

    def wait_for_spans(self, count: int, timeout: float = 30.0) -> list[Any]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.spans()) >= count, timeout), self.spans()
            return self.spans()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.close()


def value(any_value: AnyValue) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind)


def attributes(span: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in span.attributes}


def test_spans_reach_an_otlp_http_collector(collector: Collector, up: ScriptedUpstream, tmp_path: Path) -> None:
    config = {
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{up.url}/v1", "api_key": "sk-otlp-key-1",
                                 "model": MODEL}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
        "tracing": {"enabled": True, "endpoint": collector.url, "service_name": "agui-proxy-test",
                    "headers": {"authorization": f"Bearer {COLLECTOR_TOKEN}"}},
    }
    up.script(sse_response(text_transcript()))
    # The batch processor's delay, shortened so that the export comes while the test waits.
    with start_proxy(tmp_path, config, env={"OTEL_BSP_SCHEDULE_DELAY": "50"}) as proxy:
        reply = post(f"{proxy.url}/api/agent", BODY, headers={"x-request-id": "otlp-1"})
        assert text_of(reply.events) == TEXT
        spans = collector.wait_for_spans(2)
        output = proxy.output()
    headers, export = collector.exports[0]
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["authorization"] == f"Bearer {COLLECTOR_TOKEN}"
    resource = {kv.key: value(kv.value) for kv in export.resource_spans[0].resource.attributes}
    assert resource["service.name"] == "agui-proxy-test"
    server = next(s for s in spans if s.name == "POST /api/agent")
    client = next(s for s in spans if s.name == f"chat {MODEL}")
    assert client.parent_span_id == server.span_id and client.trace_id == server.trace_id
    assert attributes(server)["agui_proxy.request_id"] == "otlp-1"
    genai = {k: v for k, v in attributes(client).items() if k.startswith("gen_ai.")}
    assert genai == {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                     "gen_ai.request.model": MODEL, "gen_ai.response.model": SERVED_MODEL,
                     "gen_ai.usage.input_tokens": 31, "gen_ai.usage.output_tokens": 9,
                     "gen_ai.response.finish_reasons": ["stop"]}
    # The access line names the trace the collector holds; the collector's token is never logged.
    (line,) = [line for line in output.splitlines() if "request_id=otlp-1" in line]
    assert f"trace_id={server.trace_id.hex()}" in line
    assert COLLECTOR_TOKEN not in output and "sk-otlp-key-1" not in output
    # The start-up summary's tracing line (its value aligned after the longest fact's name).
    assert re.search(rf"^  tracing +OTLP/HTTP to {re.escape(collector.url)}$", output, re.M), output
