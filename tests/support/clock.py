"""``ManualClock``: a clock a test sets by hand, for the parts that take a ``clock`` callable
(and a ``sleep`` one: :meth:`ManualClock.sleep` returns once the test moved the clock past it)."""

from __future__ import annotations

import asyncio


class ManualClock:
    """Returns ``now`` when called; the test moves it (``clock.now += 61``), waking the sleepers it passes."""

    def __init__(self, now: float = 1000.0) -> None:
        self._now = now
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        self._now = value
        waking = [future for until, future in self._sleepers if until <= value]
        self._sleepers = [(until, future) for until, future in self._sleepers if until > value]
        for future in waking:
            if not future.done():
                future.set_result(None)

    @property
    def sleeping(self) -> int:
        """How many :meth:`sleep` calls wait for the clock to move."""
        return sum(1 for _, future in self._sleepers if not future.done())

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + seconds, future))
        await future
