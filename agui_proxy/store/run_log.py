"""The run log: the frames of resumable runs, whichever store the config picks (docs/resumable-runs.md).

One run is a log of frames numbered from 1 (the SSE ``id:`` of each), written by the one task
that drives the run upstream and read by any number of readers (the client's response, a
reattached one on this or another replica), then an *end* entry carrying the terminator the
original request had (``data: [DONE]`` or nothing).  A run is named by a *key* that includes its
owner's identity (:func:`run_key`), so another identity's reattach finds nothing: a 404 that
says nothing of whether the run exists.

Readers also say they are attached (:meth:`RunLog.attach`, renewed while they read), so the run's
driver, wherever it is, knows when no client has been there for ``linger`` seconds.

Two implementations give the same answers (``tests/store/test_run_logs.py``):
:class:`~.memory.MemoryRunLog` (one process) and :class:`~.redis.RedisRunLog`
(a Redis Stream per run: ``XADD`` with a length cap, a TTL once the run ends, ``XREAD`` to follow).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum


def run_key(identity: str | None, run_id: str) -> str:
    """The store's name for ``identity``'s run ``run_id`` (no identity: the routes take anyone)."""
    owner = hashlib.sha256((identity or "-").encode()).hexdigest()[:24]
    return f"{owner}:{run_id}"


def run_owner(key: str) -> str:
    """The part of a run key that names its owner (:func:`run_key`)."""
    return key.partition(":")[0]


class Created(IntEnum):
    """What :meth:`RunLog.create` did (the numbers are what the Redis script returns)."""

    CREATED = 1
    EXISTS = 0  # the owner already has a run of that id
    FULL = -1  # max_kept runs are kept and every one is running: none is ended for room
    OWNER_FULL = -2  # the owner keeps max_per_owner runs, every one running


@dataclass(frozen=True, slots=True)
class RunChunk:
    """What one :meth:`RunLog.read` found after the cursor: ``frames`` as ``(seq, frame)``, and
    ``end``, the terminator, once the run has ended (``None`` while it goes on)."""

    frames: Sequence[tuple[int, bytes]]
    end: bytes | None = None


class RunLog(ABC):
    """The frames of resumable runs.  One writer per run; readers anywhere.

    Calls raise :class:`~agui_proxy.errors.StoreUnavailable` when the store fails.
    """

    @abstractmethod
    async def create(self, key: str, *, ttl: float, max_kept: int, max_per_owner: int) -> Created:
        """A new, empty run, kept ``ttl`` seconds unless written to.

        Room is made by dropping ended runs only, oldest first: the owner's own when it keeps
        ``max_per_owner`` runs, then anyone's past ``max_kept``.  A running run is never dropped
        for another: with no ended run to drop, the new one is refused (``FULL``, ``OWNER_FULL``)."""

    @abstractmethod
    async def append(self, key: str, first_seq: int, frames: Sequence[bytes], *, ttl: float) -> bool:
        """Frames numbered from ``first_seq``; ``False`` when the run is gone (dropped, expired)."""

    @abstractmethod
    async def finish(self, key: str, seq: int, terminator: bytes, *, keep: float) -> None:
        """The end entry (numbered ``seq``, after the last frame); the run is kept ``keep`` seconds more."""

    @abstractmethod
    async def last_seq(self, key: str) -> int | None:
        """The seq of the run's last frame (0: none yet), or ``None`` when there is no such run."""

    @abstractmethod
    async def read(self, key: str, after: int, *, wait: float) -> RunChunk | None:
        """The frames after seq ``after`` (and the end, once there), waiting up to ``wait`` seconds
        for some when there are none yet; ``None`` when the run is gone."""

    @abstractmethod
    async def attach(self, key: str, reader: str, *, ttl: float) -> None:
        """``reader`` follows the run for the next ``ttl`` seconds (renewed while it reads)."""

    @abstractmethod
    async def detach(self, key: str, reader: str) -> None:
        """``reader`` left."""

    @abstractmethod
    async def readers(self, key: str) -> int:
        """How many readers are attached now, on every process."""

    async def aclose(self) -> None:  # noqa: B027 - nothing to close by default
        """Close connections; the log is not used after."""
