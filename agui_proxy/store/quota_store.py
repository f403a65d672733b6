"""The quota store: what keeps quotas' counters, whichever store the config picks (``store.url``).

Two implementations give the same answers for the same calls (``tests/store``):
:class:`~.memory.MemoryQuotaStore` (one process, the default) and
:class:`~.redis.RedisQuotaStore` (every worker and replica sharing one Redis).

Counters are *sliding-window counters* (the approximation Cloudflare describes for its rate
limiter): a window of ``seconds`` is split into fixed slots of that length, and the use "in the
last ``seconds``" is estimated as the current slot's count plus the previous slot's count weighted
by how much of it still lies inside the window::

    used = previous * (1 - fraction) + current        (fraction: how far into the current slot)

Why sliding rather than fixed windows: a fixed window resets all at once at its boundary, so a
client may spend twice its limit across it (N requests at 12:00:59, N more at 12:01:00), and a
limit of N per minute would not mean what it says.  Why this approximation rather than a log of
every request: it costs two integers per limit and identity whatever the traffic, one round trip
and O(1) work in Redis, and it takes amounts (tokens), not only counts.  The caller computes the
slot keys and ``fraction`` from its own clock, so both stores decide with the same numbers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Window:
    """One sliding-window counter to check (and add to) at admission."""

    current_key: str   # the slot now
    previous_key: str  # the slot before it
    seconds: int       # the window's length, and each slot's
    fraction: float    # how far into the current slot ``now`` is, in [0, 1)
    limit: int
    need: int          # units of room the request needs: refused when used + need > limit
    take: int          # units it adds when admitted (1 for a request count; tokens come later)

    def used(self, previous: int, current: int) -> float:
        return previous * (1.0 - self.fraction) + current

    def refuses(self, previous: int, current: int) -> bool:
        return self.used(previous, current) + self.need > self.limit


@dataclass(frozen=True, slots=True)
class Lease:
    """A slot among at most ``limit`` held at once (concurrent streams), released when done.

    ``expires`` (epoch seconds) bounds a slot whose holder died without releasing it: a lease is
    short, and its holder renews it (:meth:`QuotaStore.renew`) for as long as its run goes on.
    """

    key: str
    lease_id: str
    limit: int
    expires: float


@dataclass(frozen=True, slots=True)
class Charge:
    """Units added to a window's current slot after the fact (a finished run's tokens)."""

    current_key: str
    seconds: int
    amount: int


@dataclass(frozen=True, slots=True)
class Counts:
    """A window's two slots as the store found them (before the request's own ``take``)."""

    previous: int
    current: int


@dataclass(frozen=True, slots=True)
class Admission:
    """What :meth:`QuotaStore.admit` decided.

    ``refused``: the index of the first window over its limit, ``len(windows)`` for the lease, or
    ``None`` when admitted (then every ``take`` was added and the lease is held).  ``counts`` are
    the windows' slots as found; ``held``: leases held before this one (``None`` without a lease).
    """

    refused: int | None
    counts: tuple[Counts, ...]
    held: int | None

    @property
    def admitted(self) -> bool:
        return self.refused is None


def slot_ttl(seconds: int) -> int:
    """How long a slot's counter is kept: through its own slot and the next (where it is ``previous``)."""
    return 2 * seconds + 1


class QuotaStore(ABC):
    """Quotas' counters and leases, shared between requests.  Every call is atomic: several processes may call at once.

    Calls raise :class:`~agui_proxy.errors.StoreUnavailable` when the store fails or does not
    answer in time; never anything else.
    """

    @abstractmethod
    async def admit(self, windows: Sequence[Window], lease: Lease | None, now: float) -> Admission:
        """Check every window (and the lease's limit); all of them or nothing is taken."""

    @abstractmethod
    async def settle(self, charges: Sequence[Charge], release: Lease | None, now: float) -> None:
        """After a request: add amounts to windows (no check: what was spent is spent) and give back
        the lease :meth:`admit` took (a no-op once it expired), in one call."""

    @abstractmethod
    async def renew(self, lease: Lease, now: float) -> bool:
        """Move a held lease's expiry to ``lease.expires``; ``False`` (and nothing changed) when the
        lease is no longer held: released, or expired by ``now``.  A lease is never revived."""

    async def aclose(self) -> None:  # noqa: B027 - nothing to close by default
        """Close connections; the store is not used after."""
