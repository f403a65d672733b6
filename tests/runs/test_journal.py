"""The writing side of a resumable run: seqs taken in order, and the caps on frames and bytes."""

from __future__ import annotations

import asyncio

from agui_proxy.config import ResumableConfig
from agui_proxy.runs.journal import DROPPED, TOO_LARGE, FrameJournal
from agui_proxy.store import MemoryRunLog

FRAME = b"data: " + b"x" * 1000 + b"\n\n"


def journal(config: ResumableConfig) -> tuple[FrameJournal, MemoryRunLog, list[str]]:
    log = MemoryRunLog()
    stopped: list[str] = []
    return FrameJournal(log, "k", config, stopped.append, ttl=60), log, stopped


def test_the_byte_cap_stops_the_run_and_keeps_nothing_past_it() -> None:
    async def main() -> None:
        j, log, stopped = journal(ResumableConfig(max_bytes=4096, max_frames=1000))
        await log.create("k", ttl=60, max_kept=10, max_per_owner=10)
        for _ in range(10):
            await j.write(FRAME * 2)
        assert stopped and set(stopped) == {TOO_LARGE}
        assert log.kept_bytes <= 4096 and j.seq == 4
        j.closing = True  # the run's last frames go in whatever the caps
        await j.write(b"data: {\"type\":\"RUN_ERROR\"}\n\n")
        await j.finish(b"")
        chunk = await log.read("k", 0, wait=0)
        assert chunk is not None and [seq for seq, _ in chunk.frames] == [1, 2, 3, 4, 5] and chunk.end == b""
    asyncio.run(main())


def test_the_frame_cap() -> None:
    async def main() -> None:
        j, log, stopped = journal(ResumableConfig(max_frames=16))
        await log.create("k", ttl=60, max_kept=10, max_per_owner=10)
        for _ in range(20):
            await j.write(b"data: {}\n\n")
        assert j.seq == 16 and stopped[0] == TOO_LARGE
    asyncio.run(main())


def test_a_run_the_log_cannot_keep_stops() -> None:
    """In memory, past runs.max_bytes with only running runs kept: the writing run is refused."""
    async def main() -> None:
        log = MemoryRunLog(max_bytes=64 * 1024)
        stopped: list[str] = []
        j = FrameJournal(log, "k", ResumableConfig(), stopped.append, ttl=60)
        await log.create("other", ttl=60, max_kept=10, max_per_owner=10)
        await log.append("other", 1, [b"x" * 60_000], ttl=60)
        await log.create("k", ttl=60, max_kept=10, max_per_owner=10)
        await j.write(b"data: {}\n\n")
        await j.write(FRAME * 10)  # past the 64 KB the log keeps
        assert stopped == [DROPPED] and j.seq == 1
        assert await log.last_seq("other") == 1, "the other run is kept"
    asyncio.run(main())
