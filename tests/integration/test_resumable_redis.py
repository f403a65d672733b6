"""Two proxy processes sharing one real Redis (``store.url``): a run started on one is reattached on
the other mid-stream, and a reader on the other keeps the run from being abandoned."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import assert_valid_run
from ..support.openai_chat_streams import MODEL, text_transcript
from ..support.proxy import ProxyProcess, RawStream, new_client, start_proxy
from ..support.redis_server import RedisServer
from ..support.resumable import iter_frames, read_frames
from ..support.upstream import SSE_HEADERS, Chunk, End, ScriptedUpstream, Status, WaitFor, sse_event

pytestmark = pytest.mark.integration

KEY = "sk-test-SECRET-5e4d3c2b1a09"
TOKEN = {"authorization": "Bearer shared-token-0123456789"}
LINGER = 1.0


@pytest.fixture(scope="module")
def proxies(upstream: ScriptedUpstream, redis_server: RedisServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyProcess, ProxyProcess]]:
    config = {
        "auth": {"bearer_tokens": ["shared-token-0123456789"]},
        "store": {"url": redis_server.url, "timeout": 1.0, "prefix": f"t-{uuid.uuid4().hex}:"},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "${KEY}",
                                 "model": MODEL, "retries": 0}},
        "routes": [{"path": "/api/agent", "upstream": "openai", "resumable": {"linger": LINGER}}],
    }
    with start_proxy(tmp_path_factory.mktemp("a"), config, env={"KEY": KEY}) as a, \
            start_proxy(tmp_path_factory.mktemp("b"), config, env={"KEY": KEY}) as b:
        yield a, b


def body() -> dict[str, Any]:
    return {"threadId": "t", "runId": f"run-{uuid.uuid4().hex}", "messages": [{"id": "u", "role": "user",
            "content": "hi"}]}


def held(up: ScriptedUpstream, release: threading.Event) -> None:
    events = [sse_event(c) for c in text_transcript()]
    up.script(Status(200, SSE_HEADERS), Chunk(b"".join(events[:3])), WaitFor(release, timeout=20),
              Chunk(b"".join(events[3:]) + b"data: [DONE]\n\n"), End())


def test_started_on_one_reattached_on_the_other_mid_stream(proxies: tuple[ProxyProcess, ProxyProcess],
                                                          up: ScriptedUpstream) -> None:
    a, b = proxies
    release = threading.Event()
    held(up, release)
    run = body()
    with new_client() as client:
        before = read_frames(client, "POST", a.url + "/api/agent", body=run, headers=TOKEN, stop_after=2)
        with client.stream("GET", f"{b.url}/api/agent/runs/{run['runId']}",
                           headers={**TOKEN, "last-event-id": str(before.ids[-1])}) as response:
            assert response.status_code == 200 and response.headers["x-run-id"] == run["runId"]
            frames = iter_frames(response)
            # Frame 3 was written on A before the drop; B has it from Redis while the run is held.
            kept = next(frames)
            release.set()  # the rest is written on A now, and reaches B's reader live
            after = [kept, *frames]
    ids = [seq for seq, _ in after if seq is not None]
    assert before.ids + ids == list(range(1, ids[-1] + 1))
    events = before.events + [json.loads(data) for _, data in after]
    assert events[0]["type"] == "RUN_STARTED" and events[-1]["type"] == "RUN_FINISHED"
    assert [e["type"] for e in events].count("TEXT_MESSAGE_CONTENT") == 5


def test_a_reader_on_the_other_process_keeps_the_run_alive(proxies: tuple[ProxyProcess, ProxyProcess],
                                                          up: ScriptedUpstream) -> None:
    a, b = proxies
    release = threading.Event()
    held(up, release)
    run = body()
    got: dict[str, Any] = {}
    with new_client() as client:
        read_frames(client, "POST", a.url + "/api/agent", body=run, headers=TOKEN, stop_after=2)

        def follow() -> None:
            with new_client() as other:
                got["b"] = read_frames(other, "GET", f"{b.url}/api/agent/runs/{run['runId']}?after=2",
                                       headers=TOKEN)

        reader = threading.Thread(target=follow)
        reader.start()
        connection = up.wait_for_requests(1)[0].connection
        # Three lingers long with B's reader attached: A must not abandon the run.
        with pytest.raises(AssertionError):
            up.wait_closed(connection, timeout=3 * LINGER)
        release.set()
        reader.join(15)
    assert got["b"].events[-1]["type"] == "RUN_FINISHED"


def test_a_run_is_abandoned_on_its_process_when_nobody_reads_anywhere(
        proxies: tuple[ProxyProcess, ProxyProcess], up: ScriptedUpstream, tmp_path: Path) -> None:
    a, b = proxies
    release = threading.Event()
    held(up, release)
    run = body()
    with new_client() as client:
        read_frames(client, "POST", a.url + "/api/agent", body=run, headers=TOKEN, stop_after=1)
        up.wait_closed(up.wait_for_requests(1)[0].connection, timeout=LINGER + 5)
        late = read_frames(client, "GET", f"{b.url}/api/agent/runs/{run['runId']}", headers=TOKEN)
    release.set()
    assert late.events[-1]["code"] == "abandoned"


def test_a_run_whose_store_pauses_ends_with_store_unavailable(up: ScriptedUpstream, tmp_path: Path) -> None:
    """Redis stops answering (SIGSTOP) while the run's driver writes: the driver ends the run (its
    upstream request closed), logs one line, and once Redis answers again (SIGCONT) writes the
    run's end, so a reattach gets the frames, then RUN_ERROR store_unavailable, never a wait."""
    with RedisServer(tmp_path) as redis:
        config = {
            "auth": {"bearer_tokens": ["shared-token-0123456789"]},
            "store": {"url": redis.url, "timeout": 0.25, "prefix": "blip:"},
            "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{up.url}/v1", "api_key": "${KEY}",
                                     "model": MODEL, "retries": 0}},
            "routes": [{"path": "/api/agent", "upstream": "openai", "resumable": {"linger": 30}}],
        }
        more, never = threading.Event(), threading.Event()
        events = [sse_event(c) for c in text_transcript()]
        up.script(Status(200, SSE_HEADERS), Chunk(b"".join(events[:3])), WaitFor(more, timeout=20),
                  Chunk(events[3]), WaitFor(never, timeout=20), End())
        run = body()
        with start_proxy(tmp_path, config, env={"KEY": KEY}) as proxy:
            with RawStream(proxy.url, "/api/agent", run, headers=TOKEN) as first:
                first.read_until(b"TEXT_MESSAGE_CONTENT")
            redis.pause()
            try:
                more.set()  # one more delta arrives while the run log does not answer
                (request,) = up.requests
                up.wait_closed(request.connection)  # the driver ended the run: its upstream is closed
            finally:
                redis.resume()
            with new_client() as client:
                got = read_frames(client, "GET", f"{proxy.url}/api/agent/runs/{run['runId']}", headers=TOKEN)
            output = proxy.output()
    assert got.status == 200 and got.complete, got
    assert got.events[-1]["type"] == "RUN_ERROR" and got.events[-1]["code"] == "store_unavailable", got.events[-1]
    assert_valid_run(got.events)
    assert got.ids == list(range(1, len(got.ids) + 1)), "no frame lost or taken twice"
    assert "Traceback" not in output and "internal_error" not in output, output[-3000:]
    assert "the run ends with store_unavailable" in output
