"""The two run logs give the same answers for the same calls: one test body, both logs.

The Redis one is a real ``redis-server`` (the session's, tests/conftest.py); each test uses its own key
prefix.  Waiting readers are woken by the write itself (no sleep in between is relied on).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from agui_proxy.store import Created, MemoryRunLog, RunChunk, RunLog, run_key
from agui_proxy.store.redis import RedisRunLog
from tests.support.redis_server import RedisServer

TTL = 60.0


@pytest.fixture(params=["memory", "redis"])
def make_log(request: pytest.FixtureRequest) -> Callable[[], RunLog]:
    if request.param == "memory":
        return MemoryRunLog
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"t-{uuid.uuid4().hex}:"
    return lambda: RedisRunLog(server.url, timeout=1.0, prefix=prefix, max_frames=100)


def run(make_log: Callable[[], RunLog], body: Callable[[RunLog], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        log = make_log()
        try:
            return await body(log)
        finally:
            await log.aclose()
    return asyncio.run(main())


def test_frames_are_read_after_a_cursor_then_the_end(make_log: Callable[[], RunLog]) -> None:
    async def body(log: RunLog) -> None:
        assert await log.create("k", ttl=TTL, max_kept=10, max_per_owner=10) == Created.CREATED
        assert await log.create("k", ttl=TTL, max_kept=10, max_per_owner=10) == Created.EXISTS, "taken once"
        assert await log.last_seq("k") == 0
        assert await log.append("k", 1, [b"data: 1\n\n", b"data: 2\n\n"], ttl=TTL)
        assert await log.append("k", 3, [b"data: 3\n\n"], ttl=TTL)
        assert await log.last_seq("k") == 3
        assert await log.read("k", 1, wait=0.01) == RunChunk([(2, b"data: 2\n\n"), (3, b"data: 3\n\n")], None)
        await log.finish("k", 4, b"data: [DONE]\n\n", keep=TTL)
        assert await log.last_seq("k") == 3, "the end entry is not a frame"
        assert await log.read("k", 3, wait=0.01) == RunChunk([], b"data: [DONE]\n\n")
        assert await log.read("k", 0, wait=0.01) == RunChunk(
            [(1, b"data: 1\n\n"), (2, b"data: 2\n\n"), (3, b"data: 3\n\n")], b"data: [DONE]\n\n")
        assert await log.last_seq("other") is None and await log.read("other", 0, wait=0.01) is None
    run(make_log, body)


def test_a_waiting_reader_gets_the_next_write(make_log: Callable[[], RunLog]) -> None:
    async def body(log: RunLog) -> None:
        await log.create("k", ttl=TTL, max_kept=10, max_per_owner=10)
        reading = asyncio.ensure_future(log.read("k", 0, wait=10.0))
        await asyncio.sleep(0)  # the read is under way before the write
        await log.append("k", 1, [b"data: x\n\n"], ttl=TTL)
        assert await asyncio.wait_for(reading, 5.0) == RunChunk([(1, b"data: x\n\n")], None)
        assert await log.read("k", 1, wait=0.05) == RunChunk([], None), "nothing new: an empty chunk"
    run(make_log, body)


def test_readers_attach_and_detach(make_log: Callable[[], RunLog]) -> None:
    async def body(log: RunLog) -> None:
        await log.create("k", ttl=TTL, max_kept=10, max_per_owner=10)
        assert await log.readers("k") == 0
        await log.attach("k", "a", ttl=30)
        await log.attach("k", "b", ttl=30)
        await log.attach("k", "a", ttl=30)
        assert await log.readers("k") == 2
        await log.detach("k", "a")
        assert await log.readers("k") == 1
        await log.attach("k", "c", ttl=0.001)  # a reader that stopped renewing counts no more
        await asyncio.sleep(0.01)
        assert await log.readers("k") == 1
    run(make_log, body)


def test_past_max_kept_the_oldest_ended_runs_go_and_a_running_one_never(make_log: Callable[[], RunLog]) -> None:
    async def body(log: RunLog) -> None:
        for i in range(3):
            assert await log.create(f"o{i}:r", ttl=TTL, max_kept=3, max_per_owner=3) == Created.CREATED
            await log.append(f"o{i}:r", 1, [b"data: x\n\n"], ttl=TTL)
        await log.finish("o1:r", 2, b"", keep=TTL)  # o1's run has ended; o0's and o2's run on
        assert await log.create("o3:r", ttl=TTL, max_kept=3, max_per_owner=3) == Created.CREATED
        assert [await log.last_seq(f"o{i}:r") for i in range(4)] == [1, None, 1, 0], "the ended one made room"
        assert await log.create("o4:r", ttl=TTL, max_kept=3, max_per_owner=3) == Created.FULL
        assert await log.last_seq("o4:r") is None, "a refused run is not kept"
        assert await log.append("o0:r", 2, [b"data: y\n\n"], ttl=TTL), "the oldest running run goes on"
        assert await log.create("o0:r", ttl=TTL, max_kept=3, max_per_owner=3) == Created.EXISTS
    run(make_log, body)


def test_an_owner_keeps_only_its_share(make_log: Callable[[], RunLog]) -> None:
    async def body(log: RunLog) -> None:
        for i in range(2):
            assert await log.create(f"a:r{i}", ttl=TTL, max_kept=10, max_per_owner=2) == Created.CREATED
        assert await log.create("a:r2", ttl=TTL, max_kept=10, max_per_owner=2) == Created.OWNER_FULL
        assert await log.create("b:r0", ttl=TTL, max_kept=10, max_per_owner=2) == Created.CREATED, "another's share"
        await log.finish("a:r0", 1, b"", keep=TTL)
        assert await log.create("a:r2", ttl=TTL, max_kept=10, max_per_owner=2) == Created.CREATED
        assert await log.last_seq("a:r0") is None and await log.last_seq("a:r1") == 0, "its own ended run went"
    run(make_log, body)


def test_an_ended_run_expires_after_keep(make_log: Callable[[], RunLog]) -> None:
    async def body(log: RunLog) -> None:
        await log.create("k", ttl=TTL, max_kept=10, max_per_owner=10)
        await log.append("k", 1, [b"data: x\n\n"], ttl=TTL)
        await log.finish("k", 2, b"", keep=0.05)
        for _ in range(200):
            if await log.last_seq("k") is None:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the ended run was still kept long after keep")
    run(make_log, body)


def test_run_keys_belong_to_their_identity() -> None:
    assert run_key("alice", "r1") != run_key("bob", "r1")
    assert run_key("alice", "r1") == run_key("alice", "r1")
    assert "alice" not in run_key("alice", "r1"), "the key does not carry the identity itself"
    assert run_key(None, "r1").endswith(":r1")


def test_in_memory_the_bytes_of_every_run_together_are_capped() -> None:
    async def body(log: RunLog) -> None:
        assert isinstance(log, MemoryRunLog)
        frame = b"data: " + b"x" * 994 + b"\n\n"  # 1000 bytes
        for i in range(10):
            await log.create(f"k{i}", ttl=TTL, max_kept=100, max_per_owner=100)
            for seq in range(1, 4):
                assert await log.append(f"k{i}", seq, [frame], ttl=TTL)
            await log.finish(f"k{i}", 4, b"", keep=TTL)
            assert log.kept_bytes <= 8000
        assert [await log.last_seq(f"k{i}") for i in range(10)][-2:] == [3, 3], "the newest are kept"
        assert await log.last_seq("k0") is None, "the oldest ended run went first"
        # Only running runs left: the run that would pass the cap is refused, not another's.
        running = MemoryRunLog(max_bytes=5000)
        for key in ("a", "b"):
            await running.create(key, ttl=TTL, max_kept=100, max_per_owner=100)
            assert await running.append(key, 1, [frame, frame], ttl=TTL)
        assert not await running.append("b", 3, [frame], ttl=TTL)
        assert await running.last_seq("a") == 2 and await running.last_seq("b") == 2
    run(lambda: MemoryRunLog(max_bytes=8000), body)
