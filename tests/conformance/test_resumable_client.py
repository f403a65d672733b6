"""The documentation's JavaScript client for resumable runs (``docs/examples/resumable-client.mjs``,
included as it is in ``docs/resumable-runs.md``), run in Node through a connection that a relay cuts
mid-stream: it reattaches with ``Last-Event-ID`` and delivers the whole run, each frame once, in
order."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from ..support.cutting_relay import CuttingRelay
from ..support.proxy import ProxyProcess, new_client, start_proxy
from ..support.resumable import comparable, read_frames
from .node import node_or_skip

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
DOCS = HERE.parents[1] / "docs"
RUNNER = HERE / "resumable_client_run.mjs"  # imports docs/examples/resumable-client.mjs itself


def test_the_page_shows_the_file_the_tests_run() -> None:
    """The page includes the example file (pymdownx.snippets), so the code it shows is this code."""
    page = (DOCS / "resumable-runs.md").read_text("utf-8")
    assert page.count('--8<-- "examples/resumable-client.mjs"') == 1
    assert (DOCS / "examples" / "resumable-client.mjs").is_file()
    assert "examples/resumable-client.mjs" in RUNNER.read_text("utf-8")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    config = {"upstreams": {"demo": {"provider": "replay", "chunk_size": 48, "interval": 0.01}},
              "routes": [{"path": "/api/agent", "upstream": "demo", "resumable": {"linger": 30}}]}
    with start_proxy(tmp_path_factory.mktemp("proxy"), config) as running:
        yield running


@pytest.mark.parametrize("kind", ["branderux", "agui"])
def test_the_documented_client_reattaches_after_a_cut(proxy: ProxyProcess, tmp_path: Path, kind: str) -> None:
    node = node_or_skip("the documentation's resumable-run client")
    body: dict[str, object] = ({"params": {"messages": [{"role": "user", "content": "hi"}]}} if kind == "branderux"
                               else {"threadId": "t", "runId": f"run-{tmp_path.name}", "messages": []})
    with new_client() as client:
        whole = read_frames(client, "POST", proxy.url + "/api/agent",
                            body={**body, "runId": f"whole-{tmp_path.name}"} if kind == "agui" else body)
    with CuttingRelay(proxy.port, cut_after=900) as relay:
        out = tmp_path / "out.json"
        subprocess.run([node, str(RUNNER), relay.url + "/api/agent", json.dumps(body), str(out)],
                       cwd=HERE, check=True, timeout=60)
        connections = relay.connections
    result = json.loads(out.read_text("utf-8"))
    assert result["error"] is None, result
    assert connections >= 2, "the first connection was cut and the helper came back"
    received = result["received"]
    assert ("[DONE]" in received) is (kind == "branderux") and received.count("[DONE]") <= 1
    events = [json.loads(data) for data in received if data != "[DONE]"]
    assert comparable(events) == comparable(whole.events), "every frame once, in order"


class _EndsEarly(http.server.BaseHTTPRequestHandler):
    """A route whose first answer ends cleanly before the run does (as a draining replica ends its
    readers); the reattach gets the rest.  It records the Last-Event-ID each reattach sent."""

    FIRST = (b'id: 1\ndata: {"type":"RUN_STARTED","threadId":"t","runId":"r"}\n\n',
             b'id: 2\ndata: {"type":"TEXT_MESSAGE_START","messageId":"m","role":"assistant"}\n\n')
    REST = (b'id: 3\ndata: {"type":"TEXT_MESSAGE_END","messageId":"m"}\n\n',
            b'id: 4\ndata: {"type":"RUN_FINISHED","threadId":"t","runId":"r"}\n\n')
    cursors: ClassVar[list[str]] = []

    def _answer(self, frames: tuple[bytes, ...], run_id: bool) -> None:
        body = b"".join(frames)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        if run_id:
            self.send_header("x-run-id", "r")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self._answer(self.FIRST, run_id=True)

    def do_GET(self) -> None:
        type(self).cursors.append(self.headers.get("last-event-id", ""))
        self._answer(self.REST, run_id=False)

    def log_message(self, *args: object) -> None:
        pass


def test_the_documented_client_reattaches_when_a_response_ends_before_its_run(tmp_path: Path) -> None:
    node = node_or_skip("the documentation's resumable-run client")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EndsEarly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = tmp_path / "out.json"
        url = f"http://127.0.0.1:{server.server_address[1]}/api/agent"
        subprocess.run([node, str(RUNNER), url, json.dumps({"params": {}}), str(out)],
                       cwd=HERE, check=True, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    result = json.loads(out.read_text("utf-8"))
    assert result["error"] is None, result
    assert _EndsEarly.cursors == ["2"], "one reattach, after the last id seen"
    assert [json.loads(d)["type"] for d in result["received"]] == [
        "RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_END", "RUN_FINISHED"]
