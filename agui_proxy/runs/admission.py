"""Admission of runs into one process: the concurrency cap, and no new run while shutting down.

Every run the routes serve holds a :class:`RunSlot` from admission to its last byte.  Past
``streams.max_concurrent`` a request is refused with 503 and ``Retry-After`` before its body is
read, so an overloaded process spends nothing on it, and the slot is taken once the body is in
(``limits.body_timeout`` bounds that wait), so a body sent slowly holds none; while the process
drains (the draining state of ``app/shutdown.py``, which ``/readyz`` reads too) every new one is
refused the same way.
:meth:`AdmissionGate.wait_until_idle` and :meth:`AdmissionGate.stop_all` are what the drain does with the
runs already admitted.
"""

from __future__ import annotations

from typing import Protocol

import anyio

from ..errors import InboundError

# How often wait_until_idle() looks whether the runs are gone: a shutdown is no hot path.
_DRAIN_POLL = 0.02


class DrainingState(Protocol):
    @property
    def draining(self) -> bool: ...


class RunSlot:
    """One admitted run: the cancel scope its work runs in (attached once it runs), and why it
    was stopped."""

    __slots__ = ("scope", "stop_reason")

    def __init__(self) -> None:
        self.scope: anyio.CancelScope | None = None
        self.stop_reason: str | None = None  # "disconnect" or "shutdown"

    def attach(self, scope: anyio.CancelScope) -> None:
        """The scope :meth:`stop` cancels; cancelled at once if the run was stopped already."""
        self.scope = scope
        if self.stop_reason is not None:
            scope.cancel()

    def stop(self, reason: str) -> None:
        """End the run's work now (the first reason wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            if self.scope is not None:
                self.scope.cancel()


class AdmissionGate:
    def __init__(self, max_concurrent: int, retry_after: int, shutdown: DrainingState) -> None:
        self.max_concurrent = max_concurrent
        self.retry_after = retry_after
        self._shutdown = shutdown
        self._running: set[RunSlot] = set()

    @property
    def active(self) -> int:
        return len(self._running)

    def admit(self) -> RunSlot:
        """A slot for one run, or a 503 :class:`InboundError` (with its Retry-After)."""
        self.check()
        slot = RunSlot()
        self._running.add(slot)
        return slot

    def check(self) -> None:
        """The 503 :meth:`admit` would raise now, without taking a slot: asked before the body is
        read, so an overloaded process spends nothing on it, and a body sent slowly holds no slot."""
        if self._shutdown.draining:
            raise InboundError(503, "shutting_down", "the proxy is shutting down; send the request again",
                               retry_after=self.retry_after)
        if len(self._running) >= self.max_concurrent:
            raise InboundError(503, "overloaded", f"the proxy is serving its maximum of {self.max_concurrent} "
                               f"streams; retry after {self.retry_after} s", retry_after=self.retry_after)

    def release(self, slot: RunSlot) -> None:
        self._running.discard(slot)

    async def wait_until_idle(self, seconds: float) -> None:
        """Wait up to ``seconds`` for every admitted run to end."""
        with anyio.move_on_after(seconds):
            while self._running:
                await anyio.sleep(_DRAIN_POLL)

    def stop_all(self, reason: str) -> int:
        """Stop every run still running (each writes its ``RUN_ERROR`` and terminator:
        ``stream.py``); how many there were."""
        stopped = list(self._running)
        for slot in stopped:
            slot.stop(reason)
        return len(stopped)
