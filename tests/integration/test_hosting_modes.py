"""Any server, same operations: the proxy under plain uvicorn, not its own CLI.

- ``uvicorn --factory agui_proxy.serving.serve:app_from_env --workers N``: access lines and JSON
  logs appear, and ``/metrics`` is one set across the workers whichever answers the scrape;
- in front of a FastAPI app (``uvicorn --factory tests.integration.fastapi_app:...``): the access
  lines appear, and ``/healthz``, ``/readyz``, ``/metrics`` stay the app's unless configured.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import text_of
from ..support.metrics_text import Samples
from ..support.openai_chat_streams import MODEL, TEXT, text_transcript
from ..support.proxy import HOST, ProxyProcess, child_env, eventually, free_port, post, write_config
from ..support.upstream import ScriptedUpstream, sse_response

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BODY = {"params": {"messages": [{"role": "user", "content": "Hello"}]}}
MAX_REQUESTS = 60  # bounded: with idle workers each has served long before this


class UvicornProcess(ProxyProcess):
    """``python -m uvicorn <args>`` from the repository's root, its output kept like the CLI's."""

    def __init__(self, args: Sequence[str], directory: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.args = ["--host", HOST, "--port", str(self.port), *args]
        self._stdout_path = directory / f"uvicorn-{self.port}.stdout"
        self._stderr_path = directory / f"uvicorn-{self.port}.stderr"
        with open(self._stdout_path, "wb") as out, open(self._stderr_path, "wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "uvicorn", *self.args], cwd=REPO, env=env,
                                            stdout=out, stderr=err, stdin=subprocess.DEVNULL)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_uvicorn_workers_log_and_count_as_one(upstream: ScriptedUpstream, up: ScriptedUpstream,
                                              tmp_path: Path) -> None:
    config = write_config(tmp_path, {
        "logging": {"format": "json"},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "model": MODEL}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    })
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = child_env({"AGUI_PROXY_CONFIG": str(config), "TMPDIR": str(temp)}, drop=["PROMETHEUS_MULTIPROC_DIR"])
    # Four workers, as the issue ran them; two seen serving are enough to tell one set from four.
    with UvicornProcess(["--factory", "agui_proxy.serving.serve:app_from_env", "--workers", "4"], tmp_path,
                        env) as server:
        server.wait_ready()
        eventually(lambda: post(f"{server.url}/readyz", b"", method="GET").status, lambda s: s == 200,
                   "a ready worker", timeout=30)
        pids: set[int] = set()
        sent = 0
        while len(pids) < 2 and sent < MAX_REQUESTS:
            up.script(sse_response(text_transcript()))
            reply = post(f"{server.url}/api/agent", BODY, headers={"x-request-id": f"uv-{sent}"})
            assert text_of(reply.events) == TEXT
            sent += 1
            lines = eventually(lambda: [r for r in json_lines(server.stdout) if r.get("logger") == "agui_proxy.access"],
                               lambda rs, n=sent: len(rs) == n, "the access line")
            pids = {r["pid"] for r in lines}
        assert len(pids) == 2, f"one worker served all {sent} requests"
        # One set: every scrape counts every request, whichever worker answers it.
        for _ in range(8):
            s = Samples(post(f"{server.url}/metrics", b"", method="GET").body)
            assert s.get("agui_proxy_requests_total", route="/api/agent", upstream="openai", outcome="ok") == sent
        # uvicorn's own lines are JSON too, and each worker said what it provides.
        stderr = json_lines(server.stderr)
        assert any(r["logger"] == "uvicorn.error" and "Application startup complete" in r["message"] for r in stderr)
        starts = eventually(lambda: [r["message"] for r in json_lines(server.stderr)
                                     if r["logger"] == "agui_proxy.startup"], lambda m: len(m) == 4,
                            "a start line from each worker", timeout=30)
        assert all("metrics one set across the workers" in m for m in starts), starts
    (shared,) = temp.iterdir()
    assert shared.name.startswith("agui-proxy-workers-")


def middleware_server(tmp_path: Path, upstream: ScriptedUpstream, extra: dict[str, Any]) -> UvicornProcess:
    config = write_config(tmp_path, {
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "model": MODEL}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
        **extra,
    })
    env = child_env({"AGUI_TEST_CONFIG": str(config)}, drop=["PROMETHEUS_MULTIPROC_DIR"])
    return UvicornProcess(["--factory", "tests.integration.fastapi_app:middleware_app_from_env"], tmp_path, env)


def test_middleware_under_plain_uvicorn_logs_and_keeps_the_apps_paths(upstream: ScriptedUpstream,
                                                                     up: ScriptedUpstream, tmp_path: Path) -> None:
    with middleware_server(tmp_path, upstream, {}) as server:
        server.wait_ready()
        up.script(sse_response(text_transcript()))
        reply = post(f"{server.url}/api/agent", BODY, headers={"x-request-id": "mw-plain-1"})
        assert text_of(reply.events) == TEXT
        line = eventually(lambda: [ln for ln in server.stdout.splitlines() if "request_id=mw-plain-1" in ln],
                          bool, "the access line")[0]
        assert "agui_proxy.access" in line and "route=/api/agent" in line and "outcome=ok" in line
        for path in ("/healthz", "/readyz", "/metrics"):
            answer = post(f"{server.url}{path}", b"", method="GET")
            assert (answer.status, answer.json()) == (404, {"detail": "Not Found"}), path  # FastAPI's own
        assert "in front of an app" in server.stderr and "operations endpoints off" in server.stderr


def test_middleware_serves_the_operations_endpoints_it_is_configured_with(upstream: ScriptedUpstream,
                                                                          tmp_path: Path) -> None:
    extra = {"probes": {"liveness_path": "/ops/healthz", "readiness_path": "/ops/readyz"},
             "metrics": {"path": "/ops/metrics"}}
    with middleware_server(tmp_path, upstream, extra) as server:
        server.wait_ready()
        assert post(f"{server.url}/ops/healthz", b"", method="GET").json() == {"status": "ok"}
        assert eventually(lambda: post(f"{server.url}/ops/readyz", b"", method="GET").status,
                          lambda s: s == 200, "ready")
        assert b"agui_proxy_requests_total" in post(f"{server.url}/ops/metrics", b"", method="GET").body
        assert post(f"{server.url}/healthz", b"", method="GET").status == 404
