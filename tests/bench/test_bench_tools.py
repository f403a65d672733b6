"""The bench's own tools, so that its "every stream exact" means something.

The load client's HTTP/1.1 response parser is fed real responses split at every offset, and the
body checker must reject every way a stream can be wrong.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import core_ab
from bench import upstream as fake
from bench.check import check_body
from bench.contenders import REPO, _has_stream_cap
from bench.load import _Connection
from bench.merge import merge
from bench.report_tables import scale_section
from bench.run import short_of_hold
from bench.streams import FIRST_TOKEN, StreamSpec, expected_text, finish_chunks, role_chunk, token_chunk

SPEC = StreamSpec("burst", 12)


def openai_body(spec: StreamSpec = SPEC, text_tokens: int | None = None) -> bytes:
    n = spec.tokens if text_tokens is None else text_tokens
    return role_chunk() + b"".join(token_chunk(i) for i in range(n)) + finish_chunks(spec.tokens, True)


def agui_body(deltas: list[str], *, done: bool = True, kinds: list[str] | None = None) -> bytes:
    events = [{"type": "RUN_STARTED", "threadId": "t", "runId": "r"},
              {"type": "TEXT_MESSAGE_START", "messageId": "m", "role": "assistant"},
              *({"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": d} for d in deltas),
              {"type": "TEXT_MESSAGE_END", "messageId": "m"},
              {"type": "RUN_FINISHED", "threadId": "t", "runId": "r"}]
    if kinds is not None:
        events = [e for e in events if e["type"] in kinds]
    frames = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return frames + (b"data: [DONE]\n\n" if done else b"")


def test_the_exact_streams_pass() -> None:
    assert check_body("openai", 200, openai_body(), SPEC) == ""
    deltas = [expected_text(SPEC.tokens)[:5], expected_text(SPEC.tokens)[5:]]
    assert check_body("agui", 200, agui_body(deltas), SPEC) == ""
    assert check_body("openai", 200, openai_body().replace(b"\n", b"\r\n"), SPEC) == ""


def test_keepalive_comments_are_skipped_as_a_client_skips_them() -> None:
    # agui-proxy writes ": ping" blocks after streams.keepalive seconds of silence.
    deltas = [expected_text(SPEC.tokens)]
    body = agui_body(deltas)
    start, rest = body.split(b"\n\n", 1)
    assert check_body("agui", 200, start + b"\n\n: ping\n\n" + rest, SPEC) == ""
    assert check_body("agui", 200, b": ping\n: again\n\n" + body, SPEC) == ""
    assert "not one data line" in check_body("agui", 200, start + b"\n\nevent: x\n\n" + rest, SPEC)


@pytest.mark.parametrize(("kind", "status", "body", "problem"), [
    ("openai", 500, b"oops", "HTTP 500"),
    ("openai", 200, openai_body(text_tokens=11), "text differs"),
    ("openai", 200, openai_body().removesuffix(b"data: [DONE]\n\n"), "no data: [DONE]"),
    ("openai", 200, openai_body().replace(b'"finish_reason":"stop"', b'"finish_reason":null'), "no finish_reason"),
    ("openai", 200, b"data: {not json\n\ndata: [DONE]\n\n", "not JSON"),
    ("agui", 200, agui_body([expected_text(12)], done=False), "no data: [DONE]"),
    ("agui", 200, agui_body([expected_text(12)[:-1]]), "text differs"),
    ("agui", 200, agui_body([expected_text(12)], kinds=["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT",
                                                       "RUN_FINISHED"]), "unexpected event order"),
])
def test_every_wrong_stream_is_caught(kind: str, status: int, body: bytes, problem: str) -> None:
    assert problem in check_body(kind, status, body, SPEC)


def chunked_response(body_parts: list[bytes]) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    return head + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in body_parts) + b"0\r\n\r\n"


def parse(pieces: list[bytes]) -> tuple[bytes, bool, bool]:
    """Feed a response to the client's parser in ``pieces``: (body, ended, first token seen)."""
    loop = asyncio.new_event_loop()
    try:
        conn = _Connection()
        done: asyncio.Future[None] = loop.create_future()
        conn._reset(done)
        for piece in pieces:
            conn.data_received(piece)
        return b"".join(conn._body), done.done(), conn.first_at is not None
    finally:
        loop.close()


def test_the_response_parser_at_every_split() -> None:
    parts = [role_chunk(), token_chunk(0) + token_chunk(1), finish_chunks(2, False)]
    raw = chunked_response(parts)
    expected = (b"".join(parts), True, True)
    assert parse([raw[i:i + 1] for i in range(len(raw))]) == expected, "byte by byte"
    for at in range(len(raw) + 1):
        assert parse([raw[:at], raw[at:]]) == expected, f"split at {at}"
    # Without its last CRLF the body has not ended yet; without the token, no first token.
    assert parse([raw[:-2]])[1] is False
    assert parse([chunked_response([role_chunk()])])[2] is False


def test_content_length_bodies_and_the_first_token_marker() -> None:
    body = b'{"x":"' + FIRST_TOKEN.encode() + b'"}'
    raw = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    for at in range(len(raw) + 1):
        assert parse([raw[:at], raw[at:]]) == (body, True, True), f"split at {at}"


def test_the_fake_upstream_streams_what_the_checker_expects() -> None:
    whole = fake._burst(SPEC.tokens, True)
    head = whole.partition(b"\r\n\r\n")[0]
    assert b"transfer-encoding: chunked" in head
    body, ended, first = parse([whole])
    assert ended and first
    assert check_body("openai", 200, body, SPEC) == ""
    assert StreamSpec.parse(SPEC.prompt()) == SPEC


def test_merge_replaces_only_the_rerun_phase_of_the_rerun_contenders(tmp_path: Path) -> None:
    old = {"quick": False, "command": "python -m bench", "contenders": {"a": "A", "b": "B"},
           "hold": [{"contender": "a", "v": 1}, {"contender": "b", "v": 1}],
           "cpu": [{"contender": "a", "v": 1}, {"contender": "b", "v": 1}], "crashed": ["b"]}
    (tmp_path / "results.json").write_text(json.dumps(old))
    new = {"quick": False, "command": "python -m bench --contenders b --merge", "contenders": {"b": "B"},
           "hold": [{"contender": "b", "v": 2}], "crashed": [], "duration_s": 3.0, "loadavg_start": 0.5,
           "machine": {"date": "today"}}
    merged = merge(new, tmp_path / "results.json", {"warmup", "hold"})
    assert merged["hold"] == [{"contender": "a", "v": 1}, {"contender": "b", "v": 2}]
    assert merged["cpu"] == old["cpu"]
    assert merged["command"] == "python -m bench" and merged["crashed"] == []
    assert merged["reruns"][0]["phases"] == ["hold", "warmup"] and merged["reruns"][0]["contenders"] == ["b"]
    with pytest.raises(SystemExit, match="latency"):
        merge(new, tmp_path / "results.json", {"ttft"})
    with pytest.raises(SystemExit, match="quick"):
        merge({**new, "quick": True}, tmp_path / "results.json", {"hold"})


def test_a_held_stream_is_paced_until_the_release_then_exact() -> None:
    """``held``: tokens keep coming ``interval_ms`` apart but the last one and the end wait for the
    release; the whole body is then what the checker expects."""
    spec = StreamSpec("held", 6, 5)

    async def main() -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: fake.Connection(up), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = json.dumps({"messages": [{"role": "user", "content": spec.prompt()}]}).encode()
        writer.write(b"POST /v1 HTTP/1.1\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        received = b""
        while received.count(b"data: ") < 1 + spec.tokens - 1:  # role chunk and every token but the last
            received += await asyncio.wait_for(reader.read(65536), 10)
        held_at = received.count(b"data: ")
        assert up.release() == 1
        while not received.endswith(b"0\r\n\r\n"):
            received += await asyncio.wait_for(reader.read(65536), 10)
        writer.close()
        server.close()
        return held_at, received

    up = fake.Upstream()
    held_at, raw = asyncio.run(main())
    assert held_at == spec.tokens  # the role chunk and tokens 0..4: the last token waited
    body, ended, _ = parse([raw])
    assert ended and check_body("openai", 200, body, spec) == ""


def test_merge_reads_the_renamed_passthrough_under_its_new_name(tmp_path: Path) -> None:
    old = {"quick": False, "command": "python -m bench", "contenders": {"passthrough": "floor"},
           "cpu": [{"contender": "passthrough", "v": 1}], "crashed": []}
    (tmp_path / "results.json").write_text(json.dumps(old))
    new = {"quick": False, "command": "python -m bench --merge", "contenders": {"raw-relay": "raw"},
           "cpu": [{"contender": "raw-relay", "v": 2}], "crashed": [], "duration_s": 1.0, "loadavg_start": 0.1}
    merged = merge(new, tmp_path / "results.json", {"cpu"})
    assert [r["contender"] for r in merged["cpu"]] == ["starlette-passthrough", "raw-relay"]
    assert set(merged["contenders"]) == {"starlette-passthrough", "raw-relay"}


def test_core_ab_reports_the_median_ratio_of_the_pairs_per_mode() -> None:
    sides = {"tree": [8.0, 9.0, 20.0, 10.0], "baseline": [10.0, 12.0, 10.0, 10.0]}  # ratios .8 .75 2 1
    text = core_ab.report("main", {"burst": sides, "paced": sides}, (1.5, 2.5))
    assert "4 pairs" in text and "1.5 before, 2.5 after" in text
    assert text.count("baseline  10.00 us, this tree   9.50 us") == 2
    assert text.count("median 0.900, quartiles 0.762-1.750") == 2


def test_core_ab_times_the_baseline_revision_s_own_package() -> None:
    """Run as the command it is: it loads two copies of the package into its process."""
    done = subprocess.run([sys.executable, "-m", "bench.core_ab", "--baseline", "HEAD", "--pairs", "2",
                           "--seconds", "0.01"], cwd=Path(core_ab.__file__).parents[1], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "this tree against HEAD, 2 pairs" in done.stdout and done.stdout.count("ratio (this tree") == 2


def test_the_bench_lifts_the_stream_cap_of_this_tree() -> None:
    """The scale phase holds 9,500 streams: past the default cap (1,000), which the bench's config
    lifts when the copy of the package knows it, wherever its configuration lives."""
    assert _has_stream_cap(REPO)


def test_the_scale_phase_leaves_out_who_could_not_hold_the_hold_phase() -> None:
    hold = [{"contender": "agui-proxy", "streams": 1000, "held": 1000},
            {"contender": "agui-proxy", "streams": 2000, "held": 2000},
            {"contender": "docs-server", "streams": 1000, "held": 205},
            {"contender": "litellm", "streams": 1000, "held": 1000},
            {"contender": "litellm", "streams": 2000, "held": 500}]
    left_out = short_of_hold(hold)
    assert left_out == {"docs-server": "held 205 of 1,000 streams at once in the hold phase",
                        "litellm": "held 500 of 2,000 streams at once in the hold phase"}
    row = {"contender": "agui-proxy", "streams": 5000, "held": 5000, "exact": 5000, "open_s": 10.0,
           "rss_idle_mb": 60.0, "rss_held_mb": 250.0, "kb_per_stream": 37.0, "server_fds": 10010,
           "added_p50_ms": 2.0, "added_p99_ms": 7.0, "probes_exact": 10, "probes": 10, "errors": []}
    text = "\n".join(scale_section([row], {"docs-server": "the docs server"}, {"aggregate_tokens_per_s": 500},
                                   left_out))
    assert "the docs server: held 205 of 1,000 streams at once in the hold phase" in text
