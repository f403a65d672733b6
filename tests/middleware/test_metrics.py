"""The metrics of finished requests, read back from the Prometheus exposition.

Each exchange is what the shell would have recorded: a real RunPipeline fed a recorded-shape
Chat Completions transcript (or failed, or left unfinished), with its moments set by hand so the
histograms' buckets and sums are known exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agui_proxy.core.encoder import EventEncoder
from agui_proxy.core.pipeline import RunPipeline
from agui_proxy.core.run import RunBuilder
from agui_proxy.errors import ConfigError, http_error
from agui_proxy.middleware.context import RequestContext
from agui_proxy.middleware.metrics import MULTIPROC_ENV, Metrics
from agui_proxy.providers import PROVIDERS, UpstreamSettings

from ..support.metrics_text import Samples
from ..support.openai_chat_streams import text_transcript

T0 = 1000.0


def new_stream() -> RunPipeline:
    provider = PROVIDERS["openai-chat"](UpstreamSettings(base_url="http://up.invalid/v1", model="m"))
    stream = RunPipeline(RunBuilder("t", "r"), provider.translator, EventEncoder())
    stream.start()
    return stream


def transcript_bytes() -> bytes:
    return b"".join(f"data: {json.dumps(chunk)}\n\n".encode() for chunk in text_transcript()) + b"data: [DONE]\n\n"


def exchange(route: str = "/api/agent", upstream: str = "openai", **moments: float) -> RequestContext:
    ex = RequestContext("rid", "POST", route, route, upstream, started=T0)
    for name, value in moments.items():
        setattr(ex, name, value)
    return ex


def test_a_known_sequence_of_requests() -> None:
    metrics = Metrics()

    ok = exchange(first_byte=T0 + 0.3, first_event=T0 + 0.4, ended=T0 + 2.0)
    ok.status = 200
    ok.run = new_stream()
    assert ok.run.feed(transcript_bytes())
    assert ok.run.ended and ok.run.error is None

    failed = exchange(ended=T0 + 0.2)  # the upstream answered 401: no byte of a stream
    failed.status = 200
    failed.run = new_stream()
    failed.run.fail(http_error(401, "Incorrect API key provided"))

    left = exchange(first_byte=T0 + 0.05, ended=T0 + 0.7)  # the client left mid-stream
    left.status = 200
    left.run = new_stream()
    left.run.feed(b'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n')

    refused = exchange(ended=T0 + 0.001)
    refused.status, refused.error = 401, "unauthorized"

    preflight = exchange(ended=T0 + 0.001)
    preflight.status, preflight.preflight = 204, True

    for ex in (ok, failed, left, refused, preflight):
        metrics.observe(ex)
    metrics.observe(ok)  # and the same success once more
    s = Samples(metrics.render())

    requests = "agui_proxy_requests_total"
    labels = {"route": "/api/agent", "upstream": "openai"}
    assert s.get(requests, **labels, outcome="ok") == 2
    assert s.get(requests, **labels, outcome="error") == 1
    assert s.get(requests, **labels, outcome="disconnected") == 1
    assert s.get(requests, **labels, outcome="rejected") == 1
    assert s.get(requests, **labels, outcome="preflight") == 1
    assert len(s.with_name(requests)) == 5

    # Usage of RUN_FINISHED (31 in, 9 out in the transcript), counted for each success.
    assert s.get("agui_proxy_tokens_total", upstream="openai", direction="input") == 62
    assert s.get("agui_proxy_tokens_total", upstream="openai", direction="output") == 18
    assert s.with_name("agui_proxy_run_errors_total") == {
        frozenset({("upstream", "openai"), ("code", "upstream_auth_failed")}): 1}

    first_byte = "agui_proxy_upstream_first_byte_seconds"
    assert s.get(f"{first_byte}_count", upstream="openai") == 3  # the 401 had no stream body
    assert s.get(f"{first_byte}_sum", upstream="openai") == pytest.approx(0.3 + 0.3 + 0.05)
    assert s.get(f"{first_byte}_bucket", upstream="openai", le="0.05") == 1
    assert s.get(f"{first_byte}_bucket", upstream="openai", le="0.25") == 1
    assert s.get(f"{first_byte}_bucket", upstream="openai", le="0.5") == 3
    first_event = "agui_proxy_first_event_seconds"
    assert s.get(f"{first_event}_count", upstream="openai") == 2  # the client left before any event
    assert s.get(f"{first_event}_sum", upstream="openai") == pytest.approx(0.8)

    duration = "agui_proxy_stream_duration_seconds"
    assert s.get(f"{duration}_count", upstream="openai", outcome="ok") == 2
    assert s.get(f"{duration}_sum", upstream="openai", outcome="ok") == pytest.approx(4.0)
    assert s.get(f"{duration}_count", upstream="openai", outcome="error") == 1
    assert s.get(f"{duration}_count", upstream="openai", outcome="disconnected") == 1
    assert s.get(f"{duration}_bucket", upstream="openai", outcome="disconnected", le="0.5") == 0
    assert s.get(f"{duration}_bucket", upstream="openai", outcome="disconnected", le="1.0") == 1
    # Requests that never streamed are not streams.
    assert sum(s.with_name(f"{duration}_count").values()) == 4

    assert s["agui_proxy_active_streams"] == 0
    assert s.with_name("agui_proxy_upstream_retries_total") == {}


def test_retry_and_fallback_hooks() -> None:
    """What the retry and fallback code calls (it is not in this module: the hooks are the contract)."""
    metrics = Metrics()
    metrics.retry("openai")
    metrics.retry("openai")
    metrics.retry("anthropic")
    metrics.fallback("/api/agent", "openai", "anthropic")
    s = Samples(metrics.render())
    assert s.get("agui_proxy_upstream_retries_total", upstream="openai") == 2
    assert s.get("agui_proxy_upstream_retries_total", upstream="anthropic") == 1
    assert s.with_name("agui_proxy_upstream_fallbacks_total") == {
        frozenset({("route", "/api/agent"), ("from_upstream", "openai"), ("to_upstream", "anthropic")}): 1}


def test_active_streams() -> None:
    metrics = Metrics()
    metrics.stream_opened()
    metrics.stream_opened()
    metrics.stream_closed()
    assert Samples(metrics.render())["agui_proxy_active_streams"] == 1


def test_every_name_is_prefixed_and_apps_do_not_share_values() -> None:
    first, second = Metrics(), Metrics()
    first.retry("openai")
    s = Samples(first.render())
    names = s.names()
    assert names and all(name.startswith("agui_proxy_") for name in names), names
    assert Samples(second.render()).with_name("agui_proxy_upstream_retries_total") == {}


def test_a_multiprocess_directory_that_does_not_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, "/nonexistent/agui-proxy-metrics")
    with pytest.raises(ConfigError, match="MULTIPROC_DIR=/nonexistent/agui-proxy-metrics is not a directory"):
        Metrics()


def test_a_multiprocess_directory_set_too_late(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """prometheus_client picks its mode at import: the variable must be set before the process starts."""
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match="set it before the process starts"):
        Metrics()


def test_the_live_gauges_of_a_dead_worker_are_dropped(tmp_path: Path) -> None:
    """A worker killed mid-stream leaves its active_streams file: the next scrape drops it."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    files = {pid: tmp_path / f"gauge_livesum_{pid}.db" for pid in (dead.pid, os.getpid())}
    counter = tmp_path / f"counter_{dead.pid}.db"
    for path in (*files.values(), counter):
        path.write_bytes(b"")
    metrics = Metrics()
    metrics.multiprocess_dir = str(tmp_path)
    metrics._forget_dead_workers()
    assert not files[dead.pid].exists()
    assert files[os.getpid()].exists(), "a live worker's gauge stays"
    assert counter.exists(), "a dead worker's requests still happened"
