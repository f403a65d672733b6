"""Every recording of every provider, its client dropped at frame boundaries and reattached.

One real proxy (its CLI) serves a resumable route per recording, each a replay upstream playing
that recording.  For each recording the run is first read whole; then, for every frame boundary
of a short run (a seeded sample of a long one), a new run is started, the connection closed once
that many frames came, and the run reattached with ``Last-Event-ID`` set to the last id seen.  The
frames before the drop and those after the reattach must be the uninterrupted run, frame for frame
(timestamps and the ids the proxy generates aside), numbered 1, 2, 3... without a gap or a repeat;
and the official client's ``verifyEvents`` must accept every joined run (one Node process checks
them all at the end).
"""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conformance.node import node_with_client
from ..support.proxy import ProxyProcess, new_client, start_proxy
from ..support.recordings import recording_paths
from ..support.resumable import comparable, read_frames

pytestmark = pytest.mark.integration

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
FORMATS = {"openai-compatible": "openai-chat"}  # folder -> the replay format, where they differ
EVERY_BOUNDARY_UP_TO = 24  # frames; past it a seeded sample of boundaries
SAMPLE = 8
RECORDINGS = recording_paths()
JOINED: list[dict[str, Any]] = []  # every joined run, for verifyEvents at the end


def _route(index: int) -> str:
    return f"/r/{index}"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    if not RECORDINGS:
        pytest.skip("the shared provider recordings are absent (see tests/support/recordings.py)")
    upstreams = {f"u{i}": {"provider": "replay", "format": FORMATS.get(p.parent.name, p.parent.name),
                           "file": str(p), "chunk_size": 256, "interval": 0.001}
                 for i, p in enumerate(RECORDINGS)}
    routes = [{"path": _route(i), "upstream": f"u{i}", "resumable": {"linger": 30}} for i in range(len(RECORDINGS))]
    config = {"upstreams": upstreams, "routes": routes, "runs": {"max_kept": 5000}}
    with start_proxy(tmp_path_factory.mktemp("proxy"), config) as running:
        yield running


def _body() -> dict[str, Any]:
    return {"threadId": "thread-1", "runId": f"run-{uuid.uuid4().hex}", "messages": [{"id": "u1", "role": "user",
            "content": "hi"}], "tools": [], "context": []}


def boundaries(count: int, seed: int) -> list[int]:
    """Frames received before the drop: every boundary of a short run, a seeded sample of a long one."""
    inside = list(range(1, count))
    if count <= EVERY_BOUNDARY_UP_TO:
        return inside
    return sorted(random.Random(seed).sample(inside, SAMPLE))


@pytest.mark.parametrize("index", range(len(RECORDINGS)) if RECORDINGS else [],
                         ids=[f"{p.parent.name}/{p.stem}" for p in RECORDINGS])
def test_dropped_and_reattached_run_equals_the_uninterrupted_one(proxy: ProxyProcess, index: int) -> None:
    url = proxy.url + _route(index)
    with new_client() as client:
        whole = read_frames(client, "POST", url, body=_body())
        assert whole.status == 200 and whole.complete
        assert whole.ids == list(range(1, len(whole.frames) + 1)), "ids 1, 2, 3... on every frame"
        expected = comparable(whole.events)
        for cut in boundaries(len(whole.frames), seed=index):
            body = _body()
            before = read_frames(client, "POST", url, body=body, stop_after=cut)
            assert before.headers["x-run-id"] == body["runId"] and not before.complete
            after = read_frames(client, "GET", f"{url}/runs/{body['runId']}",
                                headers={"last-event-id": str(before.ids[-1])})
            assert after.status == 200 and after.complete, after.body[:300]
            assert before.ids + after.ids == list(range(1, len(whole.frames) + 1)), f"cut after {cut}"
            joined = before.events + after.events
            assert comparable(joined) == expected, f"cut after {cut}"
            assert not after.done  # a RunAgentInput body: no [DONE], after a reattach too
            JOINED.append({"id": f"{index}@{cut}", "events": joined})


def test_the_official_client_accepts_every_joined_run(tmp_path: Path) -> None:
    node = node_with_client("the official client's verifyEvents")
    if not JOINED:
        pytest.skip("no joined runs: the drop-and-reattach tests did not run in this session")
    sequences, results = tmp_path / "sequences.json", tmp_path / "results.json"
    sequences.write_text(json.dumps(JOINED))
    subprocess.run([node, str(CONFORMANCE / "verify_events.mjs"), str(sequences), str(results)], cwd=CONFORMANCE,
                   check=True, timeout=120)
    refused = [r for r in json.loads(results.read_text()) if r["error"] is not None]
    assert not refused, refused[:5]
    assert len(json.loads(results.read_text())) == len(JOINED)
