"""The in-process store: the default, for one process (``store.url`` absent).

State lives in this process's dictionaries, so with ``--workers N`` each worker would keep its own
counters; the CLI says so at start when quotas are configured without a store URL.  Each call runs
without an ``await`` inside, so it is atomic on the event loop, as a Lua script is in Redis.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import Admission, Charge, Counts, Lease, Store, Window, slot_ttl

# Expired entries are swept once the dictionaries have grown by this many since the last sweep,
# so memory follows the identities active in the last windows, not every identity ever seen.
_SWEEP_AFTER = 4096


class MemoryStore(Store):
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

    def _maybe_sweep(self, now: float) -> None:
        if len(self._counters) + len(self._leases) < self._next_sweep:
            return
        self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        self._leases = {k: live for k, v in self._leases.items() if (live := {i: e for i, e in v.items() if e > now})}
        self._next_sweep = len(self._counters) + len(self._leases) + _SWEEP_AFTER
