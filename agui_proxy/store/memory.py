"""The in-process store: the default, for one process (``store.url`` absent).

:class:`MemoryQuotaStore` keeps quotas' counters and :class:`MemoryRunLog` resumable runs' frames
in this process's memory, so with ``--workers N`` each worker would keep its own; the CLI says so
at start when quotas are configured without a store URL.  Each quota call runs without an
``await`` inside, so it is atomic on the event loop, as a Lua script is in Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from .quota_store import Admission, Charge, Counts, Lease, QuotaStore, Window, slot_ttl
from .run_log import Created, RunChunk, RunLog, run_owner

# Expired entries are swept once the dictionaries have grown by this many since the last sweep,
# so memory follows the identities active in the last windows, not every identity ever seen.
_SWEEP_AFTER = 4096


class MemoryQuotaStore(QuotaStore):
    def __init__(self) -> None:
        # Every call is given ``now`` by the caller (whose clock decides, as with Redis).
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (value, expires at)
        self._leases: dict[str, dict[str, float]] = {}     # key -> {lease id: expires at}
        self._next_sweep = _SWEEP_AFTER

    def _get(self, key: str, now: float) -> int:
        entry = self._counters.get(key)
        if entry is None or entry[1] <= now:
            return 0
        return entry[0]

    def _add(self, key: str, amount: int, seconds: int, now: float) -> None:
        self._counters[key] = (self._get(key, now) + amount, now + slot_ttl(seconds))

    async def admit(self, windows: Sequence[Window], lease: Lease | None, now: float) -> Admission:
        self._maybe_sweep(now)
        counts = tuple(Counts(self._get(w.previous_key, now), self._get(w.current_key, now)) for w in windows)
        refused = next((i for i, (w, c) in enumerate(zip(windows, counts, strict=True))
                        if w.refuses(c.previous, c.current)), None)
        held: int | None = None
        if lease is not None:
            holders = {k: v for k, v in self._leases.get(lease.key, {}).items() if v > now}
            self._leases[lease.key] = holders
            held = len(holders)
            if refused is None and held + 1 > lease.limit:
                refused = len(windows)
        if refused is None:
            for window in windows:
                if window.take:
                    self._add(window.current_key, window.take, window.seconds, now)
            if lease is not None:
                self._leases[lease.key][lease.lease_id] = lease.expires
        return Admission(refused, counts, held)

    async def settle(self, charges: Sequence[Charge], release: Lease | None, now: float) -> None:
        for charge in charges:
            self._add(charge.current_key, charge.amount, charge.seconds, now)
        holders = self._leases.get(release.key) if release is not None else None
        if release is not None and holders is not None:
            holders.pop(release.lease_id, None)
            if not holders:
                del self._leases[release.key]

    async def renew(self, lease: Lease, now: float) -> bool:
        holders = self._leases.get(lease.key)
        expires = holders.get(lease.lease_id) if holders is not None else None
        if holders is None or expires is None or expires <= now:
            return False
        holders[lease.lease_id] = lease.expires
        return True

    def _maybe_sweep(self, now: float) -> None:
        if len(self._counters) + len(self._leases) < self._next_sweep:
            return
        self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        self._leases = {k: live for k, v in self._leases.items() if (live := {i: e for i, e in v.items() if e > now})}
        self._next_sweep = len(self._counters) + len(self._leases) + _SWEEP_AFTER


# -- resumable runs' frames ----------------------------------------------------------------------


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
