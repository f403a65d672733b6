"""``ManualClock``: a clock a test sets by hand, for the parts that take a ``clock`` callable."""

from __future__ import annotations


class ManualClock:
    """Returns ``now`` when called; the test moves it (``clock.now += 61``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
