"""The timeouts of one upstream try: ``first_byte`` (until the status line), ``idle`` (between
two body chunks) and ``total`` (all tries of one upstream), kept by one cancel scope and one lazy
loop timer (:class:`Deadline`), so each ends with an :class:`UpstreamTimeout` that names the one
that ran out.  ``connect`` is httpx's own (``call.py``).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import anyio

from ..config import TimeoutsConfig
from ..errors import UpstreamTimeout
from .coalesce import Write


def seconds(value: float) -> str:
    return f"{value:g} s"


class Deadline:
    """The timeouts of one try: one cancel scope, and one lazy timer for the waits.

    The caller enters the deadline (``with deadline:``) around the whole try; its scope always
    ends the try by ``end`` (``timeouts.total`` after the first try of this upstream began).
    While the shell waits on the upstream (for the status line, for the next chunk), that wait
    may last ``first_byte`` or ``idle`` seconds.  Those are kept lazily: a wait only notes when it
    began; one timer, armed for the earliest limit, checks when it fires whether a wait has
    really run out and re-arms itself otherwise.  Moving a deadline on every chunk would cancel
    and schedule a timer per chunk: 9.0 us a chunk against 0.4 us this way, and about 7% of the
    proxy's CPU per token paced, 18% in bursts, before the change (bench/OPTIMISATIONS.md).  One
    scope and one timer per try rather than per wait: memory per open stream counts when a process
    holds a thousand of them.  :meth:`expired` is the error for whichever ran out.
    """

    __slots__ = ("_end", "_expired", "_kind", "_limit_at", "_loop", "_seconds", "_timer", "_timer_at", "scope",
                 "timeouts")

    def __init__(self, timeouts: TimeoutsConfig, end: float) -> None:
        self.timeouts = timeouts
        # Kept, not asked for per chunk: CPython 3.11's get_running_loop() makes a getpid system
        # call each time (10 of the 13 system calls per token measured in issue 18).
        self._loop = asyncio.get_running_loop()
        self._end = end
        self._kind: str | None = None  # the wait under way ("first_byte" or "idle"), if any
        self._limit_at = 0.0  # when that wait runs out (the loop's clock)
        self._seconds = 0.0  # how long that wait may last
        self._expired: str | None = None  # the wait that ran out
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self.scope = anyio.CancelScope(deadline=end)

    def __enter__(self) -> Deadline:
        self.scope.__enter__()
        return self

    def __exit__(self, *exc: Any) -> bool:
        if self._timer is not None:
            self._timer.cancel()  # a finished try keeps nothing alive in the loop
            self._timer = None
        return bool(self.scope.__exit__(*exc))

    def waiting(self, kind: str, seconds: float) -> None:
        loop = self._loop
        at = loop.time() + seconds
        self._kind = kind
        self._seconds = seconds
        self._limit_at = at
        if at < self._timer_at and at < self._end:
            self._arm(loop, at)

    def done_waiting(self) -> None:
        self._kind = None

    async def write_to_client(self, write: Write, data: bytes) -> None:
        """``write(data)`` with the wait under way paused: only upstream silence counts as idle.

        The coalescing sender writes to the client while a read of the upstream is suspended
        (``coalesce.py``); the time a slow client takes is not the upstream's, so the wait starts
        again, whole, once the client took the bytes.  ``total`` keeps running.
        """
        kind = self._kind
        if kind is None:
            await write(data)
            return
        self._kind = None
        try:
            await write(data)
        finally:
            self.waiting(kind, self._seconds)

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(at, self._check)
        self._timer_at = at

    def _check(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if self._kind is None or self.scope.cancel_called:
            return  # no wait under way: the next one arms the timer again
        loop = self._loop
        if loop.time() >= self._limit_at:
            self._expired = self._kind
            self.scope.cancel()
        else:
            self._arm(loop, self._limit_at)  # a later wait than the one the timer was armed for

    def expired(self) -> UpstreamTimeout:
        t = self.timeouts
        if self._expired is not None:
            kind = self._expired
        elif self.scope.cancel_called:
            kind = "total"  # the scope's own deadline
        else:
            kind = self._kind or "total"  # httpx gave up within a wait (writing the request)
        if kind == "first_byte":
            return UpstreamTimeout(f"the upstream did not answer within {seconds(t.first_byte)} "
                                   "(timeouts.first_byte)")
        if kind == "idle":
            return UpstreamTimeout(f"the upstream went silent for {seconds(t.idle)} (timeouts.idle)")
        return UpstreamTimeout(f"the upstream took longer than {seconds(t.total)} in all (timeouts.total)")
