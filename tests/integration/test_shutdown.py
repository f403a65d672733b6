"""SIGTERM with streams in flight, on the real CLI process.

The proxy stops accepting connections at once; a stream that finishes within
``streams.shutdown_grace`` finishes normally; one still running when the grace period ends gets
``RUN_ERROR`` code ``shutdown`` and ``data: [DONE]``, a complete stream; then the process exits
without uvicorn having to cancel anything.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ..support.agui_check import assert_valid_run, parse_frames, text_of
from ..support.openai_chat_streams import MODEL, TEXT, TEXT_PIECES, text_transcript
from ..support.proxy import HOST, ProxyProcess, Reply, eventually, open_stream, start_proxy
from ..support.upstream import SSE_HEADERS, End, Hold, ScriptedUpstream, Status, sse_response, sse_steps

pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

BODY = {"params": {"messages": [{"role": "user", "content": "What is the weather in Paris?"}]}}


def config(upstream: ScriptedUpstream, grace: float) -> dict[str, Any]:
    return {
        "streams": {"shutdown_grace": grace, "keepalive": 0},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "sk-x",
                                 "model": MODEL, "retries": 0, "timeouts": {"first_byte": 30, "idle": 30}}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }


class Client(threading.Thread):
    """One streaming request in the background: :attr:`got` is set once an event of type ``until``
    arrived; :attr:`reply` when done, :attr:`ended_at` its time."""

    def __init__(self, proxy: ProxyProcess, until: str = "TEXT_MESSAGE_CONTENT") -> None:
        super().__init__(daemon=True)
        self.proxy = proxy
        self.until = until
        self.got = threading.Event()
        self.reply: Reply | None = None
        self.ended_at = 0.0

    def run(self) -> None:
        with open_stream(self.proxy.url + "/api/agent", BODY, timeout=20) as reader:
            while (event := reader.next()) is not None:
                if event["type"] == self.until:
                    self.got.set()
            self.reply = Reply(reader.response.status_code, reader.response.headers, reader.rest())
        self.ended_at = time.monotonic()

    def wait_got(self, timeout: float = 10.0) -> None:
        assert self.got.wait(timeout), f"no {self.until} within {timeout} s"


def start_clients(proxy: ProxyProcess, up: ScriptedUpstream, count: int, until: Sequence[str] = ()) -> list[Client]:
    """Start ``count`` clients one after the other, so the n-th script answers the n-th client;
    ``until[n]``: the event the n-th client waits for (:meth:`Client.wait_got`)."""
    clients = []
    for n in range(1, count + 1):
        client = Client(proxy, *until[n - 1:n])
        client.start()
        up.wait_for_requests(n)
        clients.append(client)
    return clients


def events_of(client: Client) -> list[dict[str, Any]]:
    client.join(20)
    assert client.reply is not None and client.reply.status == 200
    events, done = parse_frames(client.reply.body)
    assert done, client.reply.body[-300:]
    assert_valid_run(events)
    return events


def refuses_connections(port: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                pass
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_sigterm_with_streams_in_flight(up: ScriptedUpstream, tmp_path: Path) -> None:
    grace = 1.5
    finishing, stuck_mid_answer, stuck_before_answer = up.hold(), up.hold(), up.hold()
    transcript = text_transcript()
    up.script(Status(200, SSE_HEADERS), sse_steps(transcript[:2], done=False), finishing,
              sse_steps(transcript[2:]), End())
    up.script(Status(200, SSE_HEADERS), sse_steps(transcript[:3], done=False), stuck_mid_answer, End())
    up.script(stuck_before_answer, sse_response(transcript))
    holds: list[Hold] = [finishing, stuck_mid_answer, stuck_before_answer]
    with start_proxy(tmp_path, config(up, grace)) as proxy:
        try:
            quick, mid, early = start_clients(proxy, up, 3, ["TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_CONTENT",
                                                             "RUN_STARTED"])
            for client in (quick, mid, early):
                client.wait_got()  # the first text of two streams reached their clients
            sigterm_at = time.monotonic()
            proxy.process.send_signal(signal.SIGTERM)
            assert refuses_connections(proxy.port), "still accepting connections after SIGTERM"
            finishing.release()  # this one finishes within the grace period

            events = events_of(quick)
            assert events[-1]["type"] == "RUN_FINISHED" and text_of(events) == TEXT

            events = events_of(mid)
            assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "shutdown", events[-1]
            assert "shutting down" in events[-1]["message"]
            assert text_of(events) == "".join(TEXT_PIECES[:2])
            assert mid.ended_at - sigterm_at >= grace * 0.99  # it had the whole grace period

            events = events_of(early)
            assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
            assert events[-1]["code"] == "shutdown"

            for request in up.requests[1:]:
                up.wait_closed(request.connection)  # the upstream work stopped too
            proxy.process.wait(15)
        finally:
            for hold in holds:
                hold.release()
        output = proxy.output()
    print(f"stream ended by shutdown {mid.ended_at - sigterm_at:.2f} s after SIGTERM (grace {grace} s)")
    assert proxy.process.returncode in (0, -signal.SIGTERM), proxy.process.returncode
    assert "ended 2 stream(s) still running" in output
    assert "timeout graceful shutdown exceeded" not in output  # uvicorn never had to cancel a task
    assert "Traceback" not in output


def test_sigterm_waits_for_streams_not_for_the_grace_period(up: ScriptedUpstream, tmp_path: Path) -> None:
    hold = up.hold()
    transcript = text_transcript()
    up.script(Status(200, SSE_HEADERS), sse_steps(transcript[:2], done=False), hold, sse_steps(transcript[2:]), End())
    with start_proxy(tmp_path, config(up, 60)) as proxy:
        try:
            (client,) = start_clients(proxy, up, 1)
            client.wait_got()
            proxy.process.send_signal(signal.SIGTERM)
            assert refuses_connections(proxy.port)
            eventually(proxy.output, lambda text: "1 stream(s) running get 60 s" in text, "the drain's start")
            assert proxy.process.poll() is None, "exited with a stream in flight"
            hold.release()
            events = events_of(client)
            assert events[-1]["type"] == "RUN_FINISHED" and text_of(events) == TEXT
            proxy.process.wait(15)  # far less than the 60 s grace: nothing was left to wait for
        finally:
            hold.release()
        assert "still running" not in proxy.output()


def test_sigterm_drains_the_streams_of_every_worker(up: ScriptedUpstream, tmp_path: Path) -> None:
    """With ``--workers 2`` the supervisor passes SIGTERM on; each worker drains its own streams."""
    grace = 1.0
    stuck = [up.hold() for _ in range(4)]
    transcript = text_transcript()
    for hold in stuck:
        up.script(Status(200, SSE_HEADERS), sse_steps(transcript[:3], done=False), hold, End())
    with start_proxy(tmp_path, config(up, grace), extra_args=["--workers", "2"]) as proxy:
        try:
            clients = start_clients(proxy, up, len(stuck))
            for client in clients:
                client.wait_got()
            proxy.process.send_signal(signal.SIGTERM)
            for client in clients:
                events = events_of(client)
                assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "shutdown", events[-1]
                assert text_of(events) == "".join(TEXT_PIECES[:2])
            proxy.process.wait(15)
        finally:
            for hold in stuck:
                hold.release()
        output = proxy.output()
    assert "timeout graceful shutdown exceeded" not in output
    assert "Traceback" not in output
