"""The run's cancellation rules (runs/stream.py, "How a run is ended"), driven without a network.

The upstream is an async generator that reads inside a cancel scope of its own, as httpcore does;
the client is a ``send`` that blocks until the test lets it go.  A cancellation that lands while the
coalescing flush is blocked on the client must unwind the read first (no "cancel scope that isn't
the current task's" error), and the bytes of the blocked write must reach the client afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from agui_proxy.runs.stream import SSEWriter
from agui_proxy.upstream.coalesce import CoalescingSender

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class SlowClient:
    """An ASGI ``send`` whose body messages block until :attr:`reading` is set."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.blocked = asyncio.Event()
        self.reading = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not self.reading.is_set():
            self.blocked.set()
            await self.reading.wait()  # like uvicorn: wait for the drain, then write the whole message
        self.messages.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


class Upstream:
    """Chunks read inside a cancel scope per read (httpcore's ``fail_after``), then silence."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.scope_exited = True

    async def read(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        with anyio.CancelScope():
            self.scope_exited = False
            try:
                await asyncio.Event().wait()  # the upstream sends nothing more
            finally:
                self.scope_exited = True
        yield b"never"


async def cancel_when_blocked(scope: anyio.CancelScope, client: SlowClient) -> None:
    await client.blocked.wait()
    scope.cancel()


async def test_a_cancel_while_the_flush_is_blocked_unwinds_the_read_and_loses_nothing() -> None:
    client = SlowClient()
    writer = SSEWriter(client.send)  # type: ignore[arg-type]
    upstream = Upstream(b"data: 1\n\n", b"data: 2\n\n")
    sender = CoalescingSender(writer.write)
    read: list[bytes] = []
    with anyio.CancelScope() as scope:
        canceller = asyncio.ensure_future(cancel_when_blocked(scope, client))
        async for chunk in sender.read(upstream.read()):
            read.append(chunk)
            sender.queue(chunk)
    await canceller
    assert scope.cancelled_caught  # the cancellation reached the scope that made it, and no other error
    assert upstream.scope_exited
    assert read == [b"data: 1\n\n", b"data: 2\n\n"]
    client.reading.set()
    await writer.write(b"data: end\n\n")
    await writer.finish()
    assert client.body == b"data: 1\n\ndata: 2\n\ndata: end\n\n"  # the blocked write's bytes went first
    assert client.messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_no_ping_while_run_bytes_wait_for_the_client() -> None:
    client = SlowClient()
    writer = SSEWriter(client.send)  # type: ignore[arg-type]
    with anyio.CancelScope() as scope:
        canceller = asyncio.ensure_future(cancel_when_blocked(scope, client))
        await writer.write(b"data: 1\n\n")
    await canceller
    client.reading.set()
    await writer.ping(anyio.current_time())  # not idle: its unsent bytes go before anything else
    assert client.body == b""
    await writer.finish()
    assert client.body == b"data: 1\n\n"


async def test_no_ping_after_the_runs_end() -> None:
    """A ping found due, then sent a moment later: if the run wrote its end meanwhile, no ping."""
    client = SlowClient()
    client.reading.set()
    writer = SSEWriter(client.send)  # type: ignore[arg-type]
    due = anyio.current_time() - 1.0  # KeepAlive's "silent for an interval" (1 s here)
    await writer.write(b'data: {"type":"RUN_FINISHED"}\n\ndata: [DONE]\n\n')
    await writer.ping(due)
    await writer.finish()
    assert client.body == b'data: {"type":"RUN_FINISHED"}\n\ndata: [DONE]\n\n'


async def test_no_ping_once_the_run_has_ended() -> None:
    """After the run's end the response goes on a moment (the upstream's end is read for reuse):
    silence then is no reason for a ping after the terminator."""
    client = SlowClient()
    client.reading.set()
    writer = SSEWriter(client.send)  # type: ignore[arg-type]
    writer.run = SimpleNamespace(pipeline=SimpleNamespace(ended=True))  # type: ignore[assignment]
    await writer.ping(anyio.current_time() + 1.0)  # long silent
    await writer.finish()
    assert client.body == b""
