"""What OpenTelemetry tracing costs per request: off, and on (a server span and a client span).

    python -m bench.tracing_cost [--requests 1000] [--rounds 5]

The whole app serves each request in-process (no sockets), from a replay upstream with no pacing:
the proxy's own CPU only.  "on" uses the SDK with a batch processor whose exporter discards the
spans, so what is measured is what the request path pays (spans, attributes, handing them to the
processor's queue), not the export, which runs on the processor's thread.  Rounds alternate off
and on; medians are printed.  Needs the otel extra (``pip install -e '.[otel]'``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from typing import Any

import anyio

from agui_proxy.app.proxy import AGUIProxyMiddleware, create_app
from agui_proxy.config import config_from_dict

BODY = json.dumps({"params": {"messages": [{"role": "user", "content": "What is the weather in Paris?"}]}}).encode()
SCOPE: dict[str, Any] = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
    "path": "/api/agent", "raw_path": b"/api/agent", "query_string": b"", "root_path": "",
    "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer bench-token"),
                (b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")],
    "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
}


def app(tracing: bool) -> AGUIProxyMiddleware:
    return create_app(config_from_dict({
        "auth": {"bearer_tokens": ["bench-token"]},
        "upstreams": {"demo": {"provider": "replay", "chunk_size": 256, "interval": 0}},
        "routes": [{"path": "/api/agent", "upstream": "demo"}],
        "logging": {"access_log": False},
        "metrics": {"enabled": False},
        "tracing": {"enabled": tracing},
    }, env={}))


def install_discarding_provider() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    trace.set_tracer_provider(provider)  # the proxy's tracing joins a provider the process has


async def serve(proxy: AGUIProxyMiddleware, requests: int) -> float:
    async def send(message: Any) -> None:
        pass

    start = time.perf_counter()
    for _ in range(requests):
        body_sent = False

        async def receive() -> Any:
            nonlocal body_sent
            if body_sent:  # the client stays: no disconnect while the stream runs
                await anyio.sleep_forever()
            body_sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}

        await proxy(dict(SCOPE), receive, send)
    return time.perf_counter() - start


def span_work(proxy: AGUIProxyMiddleware, requests: int) -> float:
    """Seconds per request of the tracing calls alone: the server span, one try's client span."""
    from agui_proxy.core.pipeline import RunPipeline
    from agui_proxy.core.run import RunBuilder
    from agui_proxy.middleware.context import RequestContext
    from agui_proxy.tracing.spans import RequestSpan
    from agui_proxy.upstream.chain import RoutePlan
    from agui_proxy.upstream.retries import UNOBSERVED

    tracing = proxy.parts.tracing
    assert tracing is not None
    plan = RoutePlan(proxy.config, proxy.config.routes[0])
    target = plan.targets(None)[0]
    start = time.perf_counter()
    for _ in range(requests):
        context = RequestContext.begin(SCOPE, "/api/agent", "demo")
        span = RequestSpan(tracing, SCOPE, context)
        observer = span.observer(UNOBSERVED, [target], context)
        observer.attempt("demo", RunPipeline(RunBuilder("t", "r"), target.provider.translator, plan.encoder),
                         False)
        observer.attempt_ended(None)
        context.status = 200
        context.end()
        span.end(context)
    return (time.perf_counter() - start) / requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    requests, rounds = min(args.requests, 20_000), min(args.rounds, 20)
    install_discarding_provider()
    apps = {"off": app(False), "on": app(True)}

    async def measure() -> dict[str, float]:
        times: dict[str, list[float]] = {"off": [], "on": []}
        for proxy in apps.values():  # warm-up: the clients, the imports, the caches
            await serve(proxy, 50)
        for _ in range(rounds):
            for name, proxy in apps.items():
                times[name].append(await serve(proxy, requests))
        for proxy in apps.values():
            await proxy.aclose()
        return {name: statistics.median(t) / requests for name, t in times.items()}

    per_request = anyio.run(measure)
    off, on = per_request["off"], per_request["on"]
    alone = statistics.median(span_work(apps["on"], requests) for _ in range(rounds))
    print(f"{requests} requests x {rounds} rounds (the demo recording, 256-byte chunks), medians")
    print(f"tracing off: {off * 1e6:.0f} us per request")
    print(f"tracing on:  {on * 1e6:.0f} us per request (+{(on - off) * 1e6:.0f} us, +{(on / off - 1) * 100:.0f}%)")
    print(f"the span work alone (server span, one client span, attributes, queued): {alone * 1e6:.0f} us per request")


if __name__ == "__main__":
    main()
