"""Resumable runs through the real proxy (its CLI), in front of a scripted Chat Completions upstream:
ids and X-Run-Id, a run that goes on when its client leaves, linger and ``abandoned``, reattaching
by identity, bad cursors, caps, several readers at once, and a route that is not resumable.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import text_of
from ..support.openai_chat_streams import MODEL, TEXT, chunk, text_transcript
from ..support.proxy import ProxyProcess, ProxySetup, RawStream, eventually, new_client, start_proxy
from ..support.resumable import iter_frames, read_frames
from ..support.upstream import SSE_HEADERS, Chunk, End, ScriptedUpstream, Status, WaitFor, sse_event

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

KEY = "sk-test-SECRET-9f8e7d6c5b4a3210"
ALICE = {"authorization": "Bearer alice-token-0123456789"}
BOB = {"authorization": "Bearer bob-token-0123456789"}
LINGER = 1.0
MAX_KEPT = 8
PER_IDENTITY = 4


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    openai = {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "${KEY}", "model": MODEL,
              "retries": 0}
    return ProxySetup({
        "auth": {"bearer_tokens": ["alice-token-0123456789", "bob-token-0123456789"]},
        "streams": {"keepalive": 0.2},
        "upstreams": {"openai": openai},
        "routes": [{"path": "/api/agent", "upstream": "openai", "resumable": {"linger": LINGER}},
                   {"path": "/api/small", "upstream": "openai", "resumable": {"linger": 30, "max_frames": 16}},
                   {"path": "/api/plain", "upstream": "openai"}],
        "runs": {"max_kept": MAX_KEPT, "max_kept_per_identity": PER_IDENTITY},
    }, env={"KEY": KEY})


def agui_body(run_id: str | None = None) -> dict[str, Any]:
    return {"threadId": "thread-1", "runId": run_id or f"run-{uuid.uuid4().hex}",
            "messages": [{"id": "u1", "role": "user", "content": "hi"}]}


TRANSCRIPT = b"".join(sse_event(c) for c in text_transcript()) + b"data: [DONE]\n\n"
BRANDERUX = {"params": {"messages": [{"role": "user", "content": "hi"}]}}


def whole_script(up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), Chunk(TRANSCRIPT), End())


def held_script(up: ScriptedUpstream, release: threading.Event) -> None:
    """Two text deltas, then nothing until ``release``, then the rest of the text run."""
    events = [sse_event(c) for c in text_transcript()]
    up.script(Status(200, SSE_HEADERS), Chunk(b"".join(events[:3])), WaitFor(release, timeout=20),
              Chunk(b"".join(events[3:]) + b"data: [DONE]\n\n"), End())


def test_frames_carry_ids_and_the_response_its_run_id(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    release = threading.Event()
    held_script(up, release)
    body = agui_body()
    with new_client() as client:
        release.set()
        got = read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=ALICE)
    assert got.status == 200 and got.headers["x-run-id"] == body["runId"]
    assert got.ids == list(range(1, len(got.frames) + 1)) and not got.done
    assert got.events[0]["type"] == "RUN_STARTED" and got.events[-1]["type"] == "RUN_FINISHED"
    assert KEY.encode() not in got.body


def test_pings_carry_no_id(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    release = threading.Event()
    held_script(up, release)
    with new_client() as client:
        timer = threading.Timer(1.0, release.set)  # long enough for a few pings at keepalive 0.2 s
        timer.start()
        got = read_frames(client, "POST", proxy.url + "/api/agent", body=agui_body(), headers=ALICE)
        timer.join()
    blocks = got.body.split(b"\n\n")
    pings = [b for b in blocks if b.startswith(b": ping")]
    assert pings, "the silent upstream was pinged through"
    assert all(b"id:" not in b for b in pings)
    assert all(b.startswith(b"id: ") for b in blocks if b.startswith((b"data:", b"id:")))


def test_the_run_goes_on_without_its_client_and_a_reattach_gets_the_rest(proxy: ProxyProcess,
                                                                          up: ScriptedUpstream) -> None:
    release = threading.Event()
    held_script(up, release)
    body = agui_body()
    url = f"{proxy.url}/api/agent/runs/{body['runId']}"
    with new_client() as client:
        before = read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=ALICE, stop_after=3)
        up.wait_for_requests(1)
        release.set()  # the rest comes while no client is there
        after = read_frames(client, "GET", url, headers={**ALICE, "last-event-id": str(before.ids[-1])})
        second = read_frames(client, "GET", url + "?after=1", headers=ALICE)  # a second tab, from after 1
    assert after.status == 200 and after.complete and after.headers["x-run-id"] == body["runId"]
    assert before.ids + after.ids == list(range(1, after.ids[-1] + 1))
    events = before.events + after.events
    assert events[-1]["type"] == "RUN_FINISHED"
    assert "".join(e.get("delta", "") for e in events) == "".join(
        c["choices"][0]["delta"].get("content", "") for c in text_transcript() if c["choices"])
    assert second.ids == list(range(2, after.ids[-1] + 1)) and second.events == events[1:]


def test_several_readers_follow_one_live_run(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    release = threading.Event()
    held_script(up, release)
    body = agui_body()
    results: dict[str, Any] = {}
    url = f"{proxy.url}/api/agent/runs/{body['runId']}"

    def follow(name: str) -> None:
        with new_client() as client:
            results[name] = read_frames(client, "GET", url, headers=ALICE)

    with new_client() as client:
        first = read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=ALICE, stop_after=2)
        readers = [threading.Thread(target=follow, args=(name,)) for name in ("tab-1", "tab-2")]
        for reader in readers:
            reader.start()
        release.set()
        for reader in readers:
            reader.join(10)
    assert first.ids == [1, 2]
    assert results["tab-1"].frames == results["tab-2"].frames
    assert results["tab-1"].events[0]["type"] == "RUN_STARTED" and results["tab-1"].events[-1]["type"] == "RUN_FINISHED"


def test_a_branderux_reattach_ends_with_done(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    release = threading.Event()
    held_script(up, release)
    with new_client() as client:
        before = read_frames(client, "POST", proxy.url + "/api/agent", body=BRANDERUX, headers=ALICE, stop_after=2)
        release.set()
        after = read_frames(client, "GET", f"{proxy.url}/api/agent/runs/{before.headers['x-run-id']}",
                            headers={**ALICE, "last-event-id": "2"})
    assert after.done and after.frames[-1] == (None, "[DONE]"), "the terminator carries no id"
    assert after.events[-1]["type"] == "RUN_FINISHED"


def test_linger_closes_the_upstream_and_a_late_reattach_sees_abandoned(proxy: ProxyProcess,
                                                                       up: ScriptedUpstream) -> None:
    release = threading.Event()
    held_script(up, release)  # never released: only linger ends it
    body = agui_body()
    with new_client() as client:
        before = read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=ALICE, stop_after=3)
        left = time.monotonic()
        connection = up.wait_for_requests(1)[0].connection
        closed = up.wait_closed(connection, timeout=LINGER + 5)
        late = read_frames(client, "GET", f"{proxy.url}/api/agent/runs/{body['runId']}", headers=ALICE)
    release.set()
    assert LINGER - 0.05 <= closed - left <= LINGER + 1.0, closed - left
    assert late.status == 200 and late.complete
    assert late.events[:3] == before.events
    assert late.events[-1]["type"] == "RUN_ERROR" and late.events[-1]["code"] == "abandoned", late.events[-1]
    assert "resumable.linger" in late.events[-1]["message"]


def test_another_identity_gets_the_same_404_as_for_no_run(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    body = agui_body()
    url = f"{proxy.url}/api/agent/runs/{body['runId']}"
    with new_client() as client:
        never = client.get(url, headers=BOB)
        whole_script(up)
        read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=ALICE)
        theirs = client.get(url, headers=BOB)
        unauthenticated = client.get(url)
        mine = read_frames(client, "GET", url, headers=ALICE)
    assert never.status_code == theirs.status_code == 404
    assert never.content == theirs.content, "nothing tells the run exists"
    assert theirs.json()["error"]["type"] == "not_found"
    assert unauthenticated.status_code == 401
    assert mine.status == 200 and mine.events[-1]["type"] == "RUN_FINISHED"


def test_a_run_id_is_taken_once_per_identity(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    body = agui_body()
    whole_script(up)
    whole_script(up)
    with new_client() as client:
        assert read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=ALICE).status == 200
        again = client.post(proxy.url + "/api/agent", json=body, headers=ALICE)
        bobs = read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=BOB)
    assert again.status_code == 409 and again.json()["error"]["type"] == "run_exists"
    assert bobs.status == 200 and bobs.events[-1]["type"] == "RUN_FINISHED", "another identity's ids are its own"


@pytest.mark.parametrize("run_id", ["run-1\n", "run-1\r\n", "\nrun-1"])
def test_a_run_id_with_a_newline_gets_422_and_starts_nothing(proxy: ProxyProcess, up: ScriptedUpstream,
                                                            run_id: str) -> None:
    requests_before = len(up.requests)
    with new_client() as client:
        reply = client.post(proxy.url + "/api/agent", json=agui_body(run_id), headers=ALICE)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["type"] == "invalid_request" and "runId" in reply.json()["error"]["message"]
    assert len(up.requests) == requests_before, "no run started upstream"


@pytest.mark.parametrize(("headers", "query", "kind"), [
    ({"last-event-id": "abc"}, "", "malformed_cursor"),
    ({"last-event-id": "-1"}, "", "malformed_cursor"),
    ({"last-event-id": "1.5"}, "", "malformed_cursor"),
    ({}, "?after=x", "malformed_cursor"),
    ({"last-event-id": "999"}, "", "cursor_past_end"),
    ({}, "?after=999", "cursor_past_end"),
])
def test_bad_cursors_get_a_clear_400(proxy: ProxyProcess, up: ScriptedUpstream, headers: dict[str, str],
                                     query: str, kind: str) -> None:
    body = agui_body()
    whole_script(up)
    with new_client() as client:
        whole = read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=ALICE)
        reply = client.get(f"{proxy.url}/api/agent/runs/{body['runId']}{query}", headers={**ALICE, **headers})
        at_end = read_frames(client, "GET", f"{proxy.url}/api/agent/runs/{body['runId']}",
                             headers={**ALICE, "last-event-id": str(whole.ids[-1])})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["type"] == kind
    assert ("Last-Event-ID" if headers else "after") in reply.json()["error"]["message"] or kind == "cursor_past_end"
    assert at_end.status == 200 and at_end.frames == [], "the last id itself: nothing more, then the end"


def test_a_run_past_its_frame_cap_ends_with_run_too_large(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    deltas = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": f"w{i} "}) for i in range(40)]
    up.script(Status(200, SSE_HEADERS), Chunk(b"".join(sse_event(c) for c in deltas)),
              WaitFor(threading.Event(), timeout=10), End())
    with new_client() as client:
        got = read_frames(client, "POST", proxy.url + "/api/small", body=agui_body(), headers=ALICE)
        connection = up.wait_for_requests(1)[0].connection
        up.wait_closed(connection, timeout=5)  # the run ended: its upstream was closed
    assert got.complete and got.events[-1]["type"] == "RUN_ERROR", got.events[-1]
    assert got.events[-1]["code"] == "run_too_large"
    assert len(got.frames) <= 16 + 2  # the cap, then the message's end and the RUN_ERROR


def test_runs_never_reattached_stay_within_max_kept(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.respond_with(lambda request: [Status(200, SSE_HEADERS), Chunk(TRANSCRIPT), End()])
    bodies = [agui_body() for _ in range(3 * MAX_KEPT)]
    with new_client() as client:
        for body in bodies:  # each client leaves after the first frame, and never comes back
            read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=ALICE, stop_after=1)
        found = [client.get(f"{proxy.url}/api/agent/runs/{b['runId']}", headers={**ALICE, "last-event-id": "1"},
                            timeout=10).status_code for b in bodies]
    up.respond_with(None)
    assert found.count(200) <= MAX_KEPT, found
    assert found[-MAX_KEPT // 2:] == [200] * (MAX_KEPT // 2), "the newest runs are kept"
    assert found[:MAX_KEPT] == [404] * MAX_KEPT, "the oldest went first"


def test_another_identitys_runs_never_end_a_running_one(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """Alice's run streams while Bob starts more runs than max_kept: his ended runs make room for
    his new ones; hers goes on to RUN_FINISHED and stays readable."""
    release = threading.Event()
    held_script(up, release)
    alice = agui_body()
    with RawStream(proxy.url, "/api/agent", alice, headers=ALICE) as stream, new_client() as client:
        stream.read_until(b"TEXT_MESSAGE_CONTENT")
        for _ in range(2 * MAX_KEPT):
            whole_script(up)
            bobs = read_frames(client, "POST", proxy.url + "/api/agent", body=agui_body(), headers=BOB)
            assert bobs.status == 200 and bobs.events[-1]["type"] == "RUN_FINISHED", bobs.events[-1:]
        release.set()
        rest = read_frames(client, "GET", f"{proxy.url}/api/agent/runs/{alice['runId']}", headers=ALICE)
    assert rest.status == 200 and rest.events[-1]["type"] == "RUN_FINISHED", rest.events[-1:]
    assert text_of(rest.events) == TEXT


def test_one_identity_fills_only_its_share_of_running_runs(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    release = threading.Event()
    streams: list[RawStream] = []
    try:
        for _ in range(PER_IDENTITY):
            held_script(up, release)
            streams.append(RawStream(proxy.url, "/api/agent", agui_body(), headers=BOB))
            streams[-1].read_until(b"TEXT_MESSAGE_CONTENT")
        with new_client() as client:
            refused = client.post(proxy.url + "/api/agent", json=agui_body(), headers=BOB)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["type"] == "too_many_runs" and refused.headers["retry-after"]
            assert "runs.max_kept_per_identity" in refused.json()["error"]["message"]
            whole_script(up)  # another identity is not refused for Bob's runs
            alices = read_frames(client, "POST", proxy.url + "/api/agent", body=agui_body(), headers=ALICE)
        assert alices.status == 200 and alices.events[-1]["type"] == "RUN_FINISHED"
    finally:
        release.set()
        for stream in streams:
            stream.close()


def test_a_route_without_resumable_is_as_before(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    release = threading.Event()
    held_script(up, release)
    with new_client() as client:
        read_frames(client, "POST", proxy.url + "/api/plain", body=agui_body(), headers=ALICE, stop_after=2)
        connection = up.wait_for_requests(1)[0].connection
        up.wait_closed(connection, timeout=5)  # the leaver's upstream is closed at once, as before
        whole_script(up)
        got = read_frames(client, "POST", proxy.url + "/api/plain", body=agui_body(), headers=ALICE)
        reattach = client.get(proxy.url + "/api/plain/runs/anything", headers=ALICE)
    release.set()
    assert "x-run-id" not in got.headers and b"id:" not in got.body
    assert reattach.status_code == 404


def test_capabilities_say_which_routes_are_resumable(proxy: ProxyProcess) -> None:
    with new_client() as client:
        resumable = client.get(proxy.url + "/api/agent/capabilities", headers=ALICE)
        plain = client.get(proxy.url + "/api/plain/capabilities", headers=ALICE)
        anonymous = client.get(proxy.url + "/api/plain/capabilities")
    assert resumable.status_code == 200 and resumable.json()["transport"] == {"streaming": True, "resumable": True}
    assert plain.json()["transport"] == {"streaming": True, "resumable": False}
    assert anonymous.status_code == 401


def test_sigterm_ends_a_resumable_run_with_shutdown_and_its_terminator(up: ScriptedUpstream, tmp_path: Path) -> None:
    release = threading.Event()
    held_script(up, release)
    config = {"upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{up.url}/v1", "api_key": "${KEY}",
                                       "model": MODEL, "retries": 0}},
              "streams": {"shutdown_grace": 0.5},
              "routes": [{"path": "/api/agent", "upstream": "openai", "resumable": {"linger": 30}}]}
    with start_proxy(tmp_path, config, env={"KEY": KEY}) as proxy, new_client() as client:
        with client.stream("POST", proxy.url + "/api/agent", json=BRANDERUX) as response:
            frames = iter_frames(response)
            first = [next(frames) for _ in range(3)]  # the run is under way, its upstream held
            proxy.process.send_signal(signal.SIGTERM)
            rest = list(frames)
        proxy.process.wait(10)
    release.set()
    events = [json.loads(data) for _, data in first + rest if data != "[DONE]"]
    assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "shutdown", events[-1]
    assert rest[-1] == (None, "[DONE]"), "the terminator still comes"


def test_sigterm_ends_a_reattached_reader_with_shutdown_and_its_terminator(up: ScriptedUpstream,
                                                                          tmp_path: Path) -> None:
    """A client that dropped and came back with GET is a reader of the run: on SIGTERM it too gets
    the run's RUN_ERROR shutdown, every frame up to it, not a cut just before it."""
    release = threading.Event()
    held_script(up, release)
    config = {"upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{up.url}/v1", "api_key": "${KEY}",
                                       "model": MODEL, "retries": 0}},
              "streams": {"shutdown_grace": 0.5},
              "routes": [{"path": "/api/agent", "upstream": "openai", "resumable": {"linger": 30}}]}
    body = agui_body()
    with start_proxy(tmp_path, config, env={"KEY": KEY}) as proxy, new_client() as client:
        dropped = read_frames(client, "POST", proxy.url + "/api/agent", body=body, stop_after=1)
        with client.stream("GET", f"{proxy.url}/api/agent/runs/{body['runId']}",
                           headers={"last-event-id": str(dropped.ids[-1])}) as response:
            assert response.status_code == 200
            frames = iter_frames(response)
            first = next(frames)  # the reader is attached
            proxy.process.send_signal(signal.SIGTERM)
            rest = [first, *frames]
        proxy.process.wait(10)
    release.set()
    events = [json.loads(data) for _, data in rest]  # an AG-UI run: its RUN_ERROR is its end
    assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "shutdown", events[-1]
    assert [seq for seq, _ in rest] == list(range(dropped.ids[-1] + 1, dropped.ids[-1] + 1 + len(rest)))


def test_quotas_hold_a_run_that_outlives_its_client(up: ScriptedUpstream, tmp_path: Path) -> None:
    """Its stream slot is held until the run ends, and it is charged its usage then (40 tokens),
    not an estimate from the few bytes its client had read."""
    release = threading.Event()
    held_script(up, release)
    config = {"auth": {"bearer_tokens": ["alice-token-0123456789"]},
              "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{up.url}/v1", "api_key": "${KEY}",
                                       "model": MODEL, "retries": 0}},
              "routes": [{"path": "/api/agent", "upstream": "openai", "resumable": {"linger": 30}}],
              "quotas": {"per_identity": {"tokens_per_day": 50, "concurrent_streams": 1}}}
    with start_proxy(tmp_path, config, env={"KEY": KEY}) as proxy, new_client() as client:
        body = agui_body()
        read_frames(client, "POST", proxy.url + "/api/agent", body=body, headers=ALICE, stop_after=2)
        busy = client.post(proxy.url + "/api/agent", json=agui_body(), headers=ALICE)
        release.set()
        rest = read_frames(client, "GET", f"{proxy.url}/api/agent/runs/{body['runId']}", headers=ALICE)
        assert rest.events[-1]["type"] == "RUN_FINISHED"
        whole_script(up)
        again = eventually(lambda: read_frames(client, "POST", proxy.url + "/api/agent", body=agui_body(),
                                               headers=ALICE), lambda got: got.status == 200,
                           "the run's stream slot given back once it ended")
        over = client.post(proxy.url + "/api/agent", json=agui_body(), headers=ALICE)
    assert busy.status_code == 429 and "streams at once" in busy.text, busy.text
    assert again.events[-1]["type"] == "RUN_FINISHED", "40 tokens charged of 50: room for one more run"
    assert over.status_code == 429 and "tokens per day" in over.text, over.text
