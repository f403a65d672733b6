"""File descriptors planned for at start: each stream takes two (its client's connection and its
upstream's), and ``streams.max_concurrent`` (1,000 by default) needs about 2,000.

Under the common 1,024 soft limit the proxy raises its soft limit to what it needs (up to the hard
limit) and says so; where the hard limit is lower, it lowers ``max_concurrent`` to what the limit
allows and says that: streams past it get ``503 overloaded``, never a run blamed on its upstream,
and ``/healthz`` keeps answering.
"""

from __future__ import annotations

import functools
import json
import resource
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import assert_valid_run
from ..support.openai_chat_streams import MODEL, chunk
from ..support.proxy import HOST, RawStream, eventually, new_client, post, sse_run_error, start_proxy, wait_for_output
from ..support.upstream import SSE_HEADERS, Chunk, End, RefusedPort, Request, ScriptedUpstream, Status, Step, sse_event

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the proxy's limits in /proc")]

BODY = {"params": {"messages": [{"role": "user", "content": "hi"}]}}


def limit_descriptors(soft: int, hard: int | None) -> None:
    """In the child, before the CLI: the soft limit (and the hard one, when given)."""
    current_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, current_hard if hard is None else hard))


def config(url: str) -> dict[str, Any]:
    return {"streams": {"keepalive": 0},
            "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{url}/v1",
                                     "api_key": "sk-test-0123456789",
                                     "model": MODEL, "retries": 0}},
            "routes": [{"path": "/api/agent", "upstream": "openai"}]}


def soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no Max open files")


def test_the_soft_limit_is_raised_to_what_max_concurrent_needs(up: ScriptedUpstream, tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 3000:
        pytest.skip(f"the hard limit on file descriptors is {hard}: no room to raise 1,024 to what 1,000 streams need")
    with start_proxy(tmp_path, config(up.url), preexec_fn=functools.partial(limit_descriptors, 1024, None)) as proxy:
        raised = soft_limit(proxy.process.pid)
        assert raised >= 2 * 1000, raised
        assert f"raised the soft limit from 1024 to {raised}" in proxy.output(), proxy.output()


def held(hold: Any, request: Request) -> list[Step]:
    return [Status(200, SSE_HEADERS), Chunk(sse_event(chunk({"role": "assistant", "content": ""}))), hold, End()]


def test_under_a_low_hard_limit_max_concurrent_is_lowered_and_nothing_runs_out(up: ScriptedUpstream,
                                                                                tmp_path: Path) -> None:
    with start_proxy(tmp_path, config(up.url), preexec_fn=functools.partial(limit_descriptors, 256, 256)) as proxy:
        output = proxy.output()
        assert "streams.max_concurrent lowered from 1000 to 64" in output, output
        hold = up.hold()
        up.respond_with(functools.partial(held, hold))
        streams: list[RawStream] = []
        try:
            statuses = []
            for _ in range(100):  # more than 256 descriptors' worth at two per stream, were they all taken
                stream = RawStream(proxy.url, "/api/agent", BODY)
                streams.append(stream)
                stream.read_until(b"\r\n\r\n")
                statuses.append(int(stream.received.split(b" ", 2)[1]))
            with new_client() as client:
                assert client.get(proxy.url + "/healthz").status_code == 200
        finally:
            hold.release()
            up.respond_with(None)
            for stream in streams:
                stream.close()
    assert statuses.count(200) == 64 and statuses.count(503) == 36, statuses
    assert "upstream_unavailable" not in proxy.output()


def open_descriptors(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def accepted(pid: int, client: socket.socket) -> bool:
    """Whether process ``pid`` holds the server side of ``client``'s connection (the kernel gives
    a connection's socket its inode when it is accepted)."""
    held = {str(fd.readlink()) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    host_port = client.getsockname()[1]
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].rsplit(":", 1)[1], 16) == host_port and f"socket:[{fields[9]}]" in held:
            return True
    return False


def test_descriptors_taken_by_idle_connections_are_reported_as_such(up: ScriptedUpstream, refused: RefusedPort,
                                                                    tmp_path: Path) -> None:
    """Connections that are not streams (idle ones here) can still take every descriptor: the run
    that then cannot connect to its upstream ends with RUN_ERROR ``overloaded`` naming the
    proxy's limit, never ``upstream_unavailable``; once they go, ``/healthz`` answers again.

    A first run (to an upstream that is down) loads what the proxy loads on first use, so that
    the run under test meets the limit at its upstream's connection, not at an import."""
    limit = 160
    settings = config(up.url)
    settings["server"] = {"header_timeout": 60}
    settings["upstreams"]["down"] = {**settings["upstreams"]["openai"], "base_url": f"{refused.url}/v1"}
    settings["routes"].append({"path": "/api/warm", "upstream": "down"})
    with start_proxy(tmp_path, settings, preexec_fn=functools.partial(limit_descriptors, limit, limit)) as proxy:
        sse_run_error(post(proxy.url + "/api/warm", BODY), "upstream_unavailable")
        wait_for_output(proxy, "path=/api/warm")  # its access line
        warm = wait_for_output(proxy, "run ended with upstream_unavailable").count("upstream_unavailable")
        pid = proxy.process.pid
        client = socket.create_connection((HOST, proxy.port))  # accepted while descriptors remain
        idle: list[socket.socket] = []
        try:
            eventually(lambda: accepted(pid, client), bool, "the client's connection accepted")
            idle = [socket.create_connection((HOST, proxy.port)) for _ in range(limit - open_descriptors(pid))]
            eventually(lambda: open_descriptors(pid), lambda n: n >= limit, "every descriptor taken")
            body = json.dumps(BODY).encode()
            client.sendall(b"POST /api/agent HTTP/1.1\r\nhost: proxy\r\ncontent-type: application/json\r\n"
                           b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            client.settimeout(20)
            answer = b""
            while not answer.endswith(b"0\r\n\r\n"):
                piece = client.recv(65536)
                assert piece, (answer, proxy.output()[-3000:])
                answer += piece
        finally:
            client.close()
            for sock in idle:
                sock.close()
        events = [json.loads(line[6:]) for line in answer.split(b"\n") if line.startswith(b"data: {")]
        assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "overloaded", events[-1]
        assert "file descriptor" in events[-1]["message"], events[-1]
        assert_valid_run(events)
        eventually(lambda: healthz(proxy.url), lambda status: status == 200, "/healthz answering", timeout=10)
    assert up.requests == [], "the upstream was never reached"
    assert proxy.output().count("upstream_unavailable") == warm, "only the first run's lines say upstream_unavailable"


def healthz(url: str) -> int:
    with new_client() as client:
        return client.get(url + "/healthz").status_code
