"""``ManualClock``: a clock a test sets by hand, for the parts that take a ``clock`` callable
(and a timer: :meth:`ManualClock.call_later` calls back once the test moved the clock past it)."""

from __future__ import annotations

from collections.abc import Callable


class ManualTimer:
    def __init__(self, at: float, callback: Callable[[], None]) -> None:
        self.at = at
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """Returns ``now`` when called; the test moves it (``clock.now += 61``), firing the timers it passes."""

    def __init__(self, now: float = 1000.0) -> None:
        self._now = now
        self._timers: list[ManualTimer] = []

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        self._now = value
        due = [t for t in self._timers if t.at <= value]
        self._timers = [t for t in self._timers if t.at > value and not t.cancelled]
        for timer in sorted(due, key=lambda t: t.at):
            if not timer.cancelled:
                timer.callback()

    @property
    def timers(self) -> int:
        """How many :meth:`call_later` callbacks wait for the clock to move."""
        return sum(1 for t in self._timers if not t.cancelled)

    def call_later(self, delay: float, callback: Callable[[], None]) -> ManualTimer:
        timer = ManualTimer(self._now + delay, callback)
        self._timers.append(timer)
        return timer
