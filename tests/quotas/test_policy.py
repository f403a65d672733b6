"""The pure part of the quotas: when a refused window has room again, the header syntax."""

from __future__ import annotations

import random

import pytest

from agui_proxy.config import QuotaLimits
from agui_proxy.quotas.policy import rate_limit_headers, seconds_until_room, wait_text
from agui_proxy.store import Counts, Window


def window(fraction: float, limit: int, need: int = 1) -> Window:
    return Window("c", "p", 60, fraction, limit, need=need, take=need)


def admits(w: Window, counts: Counts, after: float) -> bool:
    """Whether ``w`` admits the request ``after`` seconds later, nothing else spent meanwhile."""
    position = w.fraction * w.seconds + after
    slots, within = divmod(position, w.seconds)
    if slots == 0:
        previous, current = counts.previous, counts.current
    elif slots == 1:
        previous, current = counts.current, 0
    else:
        previous, current = 0, 0
    moved = Window("c", "p", w.seconds, within / w.seconds, w.limit, need=w.need, take=w.need)
    return not moved.refuses(previous, current)


def test_seconds_until_room_is_when_room_comes_back() -> None:
    """For a seeded sample of refused windows: refused just before the answer, admitted at it."""
    rng = random.Random(13)
    checked = 0
    while checked < 2000:
        w = window(rng.random(), rng.randint(1, 50))
        counts = Counts(rng.randint(0, 80), rng.randint(0, 80))
        if not w.refuses(counts.previous, counts.current):
            continue
        wait = seconds_until_room(w, counts)
        assert 0 < wait <= 2 * w.seconds
        assert admits(w, counts, wait + 1e-6)
        assert not admits(w, counts, wait - 1e-3)
        checked += 1


def test_a_zero_limit_waits_a_whole_window() -> None:
    assert seconds_until_room(window(0.5, 0), Counts(0, 0)) == 60


def test_headers_follow_the_draft_syntax() -> None:
    limits = QuotaLimits(requests_per_minute=30, tokens_per_day=500000, concurrent_streams=3)
    headers = dict(rate_limit_headers(limits, [("requests_per_minute", 0, 12), ("tokens_per_day", 1200, None)]))
    assert headers[b"ratelimit-policy"] == (b'"requests_per_minute";q=30;w=60, '
                                            b'"tokens_per_day";q=500000;w=86400;agui-unit="tokens", '
                                            b'"concurrent_streams";q=3;qu="concurrent-requests"')
    assert headers[b"ratelimit"] == b'"requests_per_minute";r=0;t=12, "tokens_per_day";r=1200'


@pytest.mark.parametrize(("seconds", "text"), [(1, "1 s"), (119, "119 s"), (120, "2 min"), (3601, "61 min"),
                                               (7200, "2 h 0 min"), (86399, "23 h 60 min")])
def test_wait_text(seconds: int, text: str) -> None:
    assert wait_text(seconds) == text
