"""Resumable runs' frames in this process's memory (no ``store.url``): one process only."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from .runs import Created, RunChunk, RunLog, run_owner


class _Run:
    __slots__ = ("changed", "end", "expires", "frames", "readers", "size")

    def __init__(self, expires: float) -> None:
        self.frames: list[bytes] = []  # frame seq n is frames[n - 1]
        self.size = 0  # bytes of frames
        self.end: bytes | None = None
        self.expires = expires
        self.readers: dict[str, float] = {}  # reader -> until when it counts as attached
        self.changed = asyncio.Event()  # set (and replaced) on every write, for readers waiting

    def wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class MemoryRunLog(RunLog):
    """``max_bytes`` bounds the frames of every run together: past it the oldest ended runs go
    first, and when only running ones are left the run that would pass it is refused the write
    (its writer ends it), never another's, so the process's memory has a bound whatever the
    clients do."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._clock = clock
        self._max_bytes = max_bytes
        self._bytes = 0  # of every kept run's frames
        self._runs: OrderedDict[str, _Run] = OrderedDict()  # oldest first

    def _get(self, key: str) -> _Run | None:
        run = self._runs.get(key)
        if run is not None and run.expires <= self._clock():
            self._drop(key)
            return None
        return run

    def _drop(self, key: str) -> None:
        run = self._runs.pop(key)
        self._bytes -= run.size
        run.wake()  # its readers find it gone

    def _purge(self) -> None:
        now = self._clock()
        for key in [k for k, run in self._runs.items() if run.expires <= now]:
            self._drop(key)

    @property
    def kept(self) -> int:
        """Runs held now (for tests and metrics)."""
        return len(self._runs)

    @property
    def kept_bytes(self) -> int:
        return self._bytes

    async def create(self, key: str, *, ttl: float, max_kept: int, max_per_owner: int) -> Created:
        self._purge()
        if key in self._runs:
            return Created.EXISTS
        owner = run_owner(key)
        owned = [k for k in self._runs if run_owner(k) == owner]
        if len(owned) >= max_per_owner and not self._drop_ended(owned):
            return Created.OWNER_FULL
        while len(self._runs) >= max_kept:
            if not self._drop_ended(self._runs):
                return Created.FULL
        self._runs[key] = _Run(self._clock() + ttl)
        return Created.CREATED

    def _drop_ended(self, keys: Iterable[str]) -> bool:
        """Drop the first (oldest) ended run of ``keys``; ``False`` when every one is running."""
        ended = next((k for k in keys if self._runs[k].end is not None), None)
        if ended is None:
            return False
        self._drop(ended)
        return True

    async def append(self, key: str, first_seq: int, frames: Sequence[bytes], *, ttl: float) -> bool:
        run = self._get(key)
        if run is None:
            return False
        assert first_seq == len(run.frames) + 1, "frames are appended in order by the run's one writer"
        size = sum(len(frame) for frame in frames)
        while self._bytes + size > self._max_bytes:
            if not self._drop_ended(list(self._runs)):
                return False  # only running runs are kept: this one, not another's, stops here
        run.frames.extend(frames)
        run.size += size
        self._bytes += size
        run.expires = self._clock() + ttl
        run.wake()
        return True

    async def finish(self, key: str, seq: int, terminator: bytes, *, keep: float) -> None:
        run = self._get(key)
        if run is not None:
            run.end = terminator
            run.expires = self._clock() + keep
            run.wake()

    async def last_seq(self, key: str) -> int | None:
        run = self._get(key)
        return None if run is None else len(run.frames)

    async def read(self, key: str, after: int, *, wait: float) -> RunChunk | None:
        run = self._get(key)
        if run is None:
            return None
        if len(run.frames) <= after and run.end is None:
            changed = run.changed
            try:
                await asyncio.wait_for(changed.wait(), wait)
            except TimeoutError:
                pass
            run = self._get(key)
            if run is None or key not in self._runs:
                return None
        frames = [(seq, run.frames[seq - 1]) for seq in range(after + 1, len(run.frames) + 1)]
        return RunChunk(frames, run.end)

    async def attach(self, key: str, reader: str, *, ttl: float) -> None:
        run = self._get(key)
        if run is not None:
            run.readers[reader] = self._clock() + ttl

    async def detach(self, key: str, reader: str) -> None:
        run = self._runs.get(key)
        if run is not None:
            run.readers.pop(reader, None)

    async def readers(self, key: str) -> int:
        run = self._get(key)
        if run is None:
            return 0
        now = self._clock()
        for reader in [r for r, until in run.readers.items() if until <= now]:
            del run.readers[reader]
        return len(run.readers)
