"""The writing side of a resumable run: the run's frames numbered into the run log, within caps.

The upstream run writes here instead of to a client (``resumable.py``), so no client, slow or
gone, ever holds it up.  Each frame takes the next seq.  Past ``max_frames`` or ``max_bytes`` the
journal stops the run (``too_large``) and drops what came over the cap; the run's last frames
(its ``RUN_ERROR`` and the end) are written once :attr:`closing` is set, whatever the caps.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from ..config import ResumableConfig
from ..core.frames import split_frames
from ..store import RunLog

TOO_LARGE = "too_large"
DROPPED = "dropped"  # the log no longer has the run (runs.max_kept, or it expired)


class FrameJournal:
    __slots__ = ("_config", "_key", "_log", "_stop", "bytes", "closing", "seq", "ttl", "unsent")

    def __init__(self, log: RunLog, key: str, config: ResumableConfig, stop: Callable[[str], None],
                 ttl: float) -> None:
        self._log = log
        self._key = key
        self._config = config
        self._stop = stop
        self.ttl = ttl  # how long the log keeps the run after each write while it goes on
        self.seq = 0  # the last frame's
        self.bytes = 0
        self.closing = False
        self.unsent: list[bytes] = []  # the frames of a write the store failed (they may have landed)

    async def write(self, data: bytes) -> None:
        frames = split_frames(data)
        if not frames:
            return
        size = sum(len(frame) for frame in frames)
        config = self._config
        if not self.closing and (self.seq + len(frames) > config.max_frames
                                 or self.bytes + size > config.max_bytes):
            self._stop(TOO_LARGE)
            return
        # Shielded: a run stopped while its frames are being written must still count them, or
        # the next seq would be taken twice.
        with anyio.CancelScope(shield=True):
            self.unsent = frames
            kept = await self._log.append(self._key, self.seq + 1, frames, ttl=self.ttl)
            self.unsent = []
        if not kept:
            self._stop(DROPPED)
            return
        self.seq += len(frames)
        self.bytes += size

    async def resync(self) -> bool:
        """After a store fault: take up where the log is (the failed write's frames landed, or are
        written now); ``False`` when the log no longer has the run."""
        last = await self._log.last_seq(self._key)
        if last is None:
            return False
        unsent, self.unsent = self.unsent, []
        if unsent and last == self.seq:
            if not await self._log.append(self._key, last + 1, unsent, ttl=self.ttl):
                return False
            last += len(unsent)
        self.seq = last
        return True

    async def finish(self, terminator: bytes) -> None:
        with anyio.CancelScope(shield=True):
            await self._log.finish(self._key, self.seq + 1, terminator, keep=self._config.keep)
