"""File descriptors planned for at start: each stream takes two (its client's connection and its
upstream's), and ``streams.max_concurrent`` (1,000 by default) needs about 2,000.

Under the common 1,024 soft limit the proxy raises its soft limit to what it needs (up to the hard
limit) and says so; where the hard limit is lower, it lowers ``max_concurrent`` to what the limit
allows and says that: streams past it get ``503 overloaded``, never a run blamed on its upstream,
and ``/healthz`` keeps answering.
"""

from __future__ import annotations

import functools
import resource
import sys
from pathlib import Path
from typing import Any

import pytest

from ..support.openai_chat_streams import MODEL, chunk
from ..support.proxy import RawStream, new_client, start_proxy
from ..support.upstream import SSE_HEADERS, Chunk, End, Request, ScriptedUpstream, Status, Step, sse_event

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
