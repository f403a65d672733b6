"""``agui-proxy --workers 2``: two processes serve the one port and /metrics adds them up.

Which worker takes a connection is the kernel's choice, so requests are sent (each on its own
connection) until the access log, which names the serving process, shows both; then every
scrape, whichever worker answers it, must count all of them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import parse_frames, text_of
from ..support.metrics_text import Samples
from ..support.openai_chat_streams import MODEL, TEXT, text_transcript
from ..support.proxy import ProxyProcess, eventually, open_stream, post, run_cli, start_proxy
from ..support.upstream import SSE_HEADERS, End, ScriptedUpstream, Signal, Status, WaitFor, sse_response, sse_steps

pytestmark = pytest.mark.integration

BODY = {"params": {"messages": [{"role": "user", "content": "Hello"}]}}
MAX_REQUESTS = 60  # bounded: with two idle workers both have served long before this


def access_pids(proxy: ProxyProcess) -> dict[str, int]:
    """Request id -> the pid of the worker that served it, from the JSON access lines."""
    out = {}
    for line in proxy.stdout.splitlines():
        if line.startswith("{"):
            record: dict[str, Any] = json.loads(line)
            if record.get("logger") == "agui_proxy.access":
                out[record["request_id"]] = record["pid"]
    return out


def scrape(proxy: ProxyProcess) -> Samples:
    reply = post(f"{proxy.url}/metrics", b"", method="GET")
    assert reply.status == 200, reply.body
    return Samples(reply.body)


def test_two_workers_serve_and_metrics_add_up(upstream: ScriptedUpstream, up: ScriptedUpstream,
                                               tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    config = {
        "logging": {"format": "json"},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "model": MODEL}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }
    # TMPDIR: where the CLI makes the workers' metrics directory, so the test can see it go.
    with start_proxy(tmp_path, config, env={"TMPDIR": str(temp)}, drop_env=["PROMETHEUS_MULTIPROC_DIR"],
                     extra_args=["--workers", "2"]) as proxy:
        eventually(lambda: post(f"{proxy.url}/readyz", b"", method="GET").status, lambda s: s == 200,
                   "a ready worker", timeout=20)
        (metrics_dir,) = temp.iterdir()
        assert metrics_dir.name.startswith("agui-proxy-metrics-")

        sent = 0
        while sent < MAX_REQUESTS:
            up.script(sse_response(text_transcript()))
            request_id = f"w-{sent}"
            reply = post(f"{proxy.url}/api/agent", BODY, headers={"x-request-id": request_id})
            sent += 1
            assert text_of(reply.events) == TEXT
            pids = eventually(lambda: access_pids(proxy), lambda seen, rid=request_id: rid in seen,
                              f"the access line of {request_id}")
            if len(set(pids.values())) == 2:
                break
        served_by = set(access_pids(proxy).values())
        assert len(served_by) == 2, f"one worker took all {sent} requests: {served_by}"
        assert proxy.process.pid not in served_by

        # Whichever worker answers the scrape, it counts every worker's requests.
        for _ in range(6):
            s = eventually(lambda: scrape(proxy),
                           lambda s: s.get("agui_proxy_requests_total", route="/api/agent", upstream="openai",
                                           outcome="ok") == sent, f"{sent} requests counted")
            assert s.get("agui_proxy_tokens_total", upstream="openai", direction="input") == 31 * sent
            assert s.get("agui_proxy_upstream_first_byte_seconds_count", upstream="openai") == sent
            assert s["agui_proxy_active_streams"] == 0

        # A stream open in one worker is active in every worker's answer.
        held, release = threading.Event(), threading.Event()
        steps = sse_steps(text_transcript())
        up.script(Status(200, SSE_HEADERS), steps[:2], Signal(held), WaitFor(release), steps[2:], End())
        with open_stream(f"{proxy.url}/api/agent", BODY) as reader:
            reader.until("TEXT_MESSAGE_START")
            assert held.wait(5)
            for _ in range(4):
                assert scrape(proxy)["agui_proxy_active_streams"] == 1
            release.set()
            events, done = parse_frames(reader.rest())
        assert done and text_of(events) == TEXT
        eventually(lambda: scrape(proxy), lambda s: s["agui_proxy_active_streams"] == 0, "the stream's end")

    assert proxy.process.returncode == 0, proxy.stderr
    assert list(temp.iterdir()) == [], "the CLI left its metrics directory behind"
    assert "Traceback" not in proxy.output(), proxy.output()


def test_workers_must_be_at_least_one(tmp_path: Path) -> None:
    result = run_cli(tmp_path, ["--workers", "0", "--port", "9"], timeout=20)
    assert result.returncode == 2
    assert "argument --workers: must be at least 1, not 0" in result.stderr
