"""How big each phase is: the full run (about 35 minutes on 2 quiet cores, every contender installed)
and the ``--quick`` smoke run.

Paced streams send a token every ``interval_ms``; in the latency rounds the interval grows with
the concurrency so that all streams together ask for at most ``aggregate_tokens_per_s`` (the
machine has 2 shared cores: past that, a round measures the queue of a saturated machine, not
what a proxy adds).  The interval used at each level is written into the results.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .streams import StreamSpec


@dataclass(frozen=True)
class Load:
    spec: StreamSpec
    concurrency: int
    count: int


@dataclass(frozen=True)
class LatencyLevel:
    """``concurrency`` streams open: ``probes`` of them short streams timed one after the other, the
    rest long paced streams in the background (see :func:`bench.load.latency_under_load`)."""

    concurrency: int
    repeats: int
    window: float  # seconds of probing
    timeout: float  # the whole round, background included
    probes: int = 4

    @property
    def background(self) -> int:
        return max(self.concurrency - self.probes, 0)

    @property
    def ramp(self) -> float:
        return self.background / 200.0  # background streams opened at 200 per second

    @property
    def settle(self) -> float:
        """The longest wait, after the ramp, for every background stream's first token."""
        return 1.0 + self.ramp / 2


@dataclass(frozen=True)
class Plan:
    repeats: int  # of the CPU rounds
    cpu_loads: tuple[Load, ...]
    ttft_levels: tuple[LatencyLevel, ...]
    hold_levels: tuple[int, ...]
    hold_tokens: int = 20
    hold_timeout: float = 60.0
    hold_stall: float = 5.0
    base_interval_ms: float = 10.0
    aggregate_tokens_per_s: float = 500.0  # of the background streams in the latency rounds
    probe_tokens: int = 5
    round_timeout: float = 120.0
    warmup_streams: int = 20
    warmup_concurrency: int = 4
    core_seconds: float = 6.0
    sse_seconds: float = 6.0
    leave_out: tuple[str, ...] = field(default=())
    # The scale rows (bench/scale.py): paced streams held open at once, in one process.
    scale_levels: tuple[int, ...] = (5000, 9500)
    scale_tokens: int = 12
    scale_window: float = 5.0  # seconds of first-token probes while all are open
    scale_timeout: float = 150.0
    scale_stall: float = 15.0
    # The added-latency rows (bench/latency.py): requests one at a time, each on a new connection,
    # for a short answer written at once; every target takes a turn per round, ``latency_turns``
    # rounds per repeat.
    latency_repeats: int = 3
    latency_turns: int = 100
    latency_tokens: int = 20
    latency_timeout: float = 30.0

    def background_spec(self, level: LatencyLevel) -> StreamSpec:
        """Paced streams at most ``aggregate_tokens_per_s`` together, open for the whole round."""
        interval = max(self.base_interval_ms, 1000.0 * level.background / self.aggregate_tokens_per_s)
        open_for = level.ramp + level.settle + level.window + 1.0
        return StreamSpec("paced", max(2, math.ceil(open_for * 1000 / interval)), interval)

    def latency_spec(self) -> StreamSpec:
        return StreamSpec("burst", self.latency_tokens)

    def probe_spec(self) -> StreamSpec:
        return StreamSpec("paced", self.probe_tokens, self.base_interval_ms)

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out["background"] = {lv.concurrency: asdict(self.background_spec(lv)) for lv in self.ttft_levels}
        return out


FULL = Plan(
    repeats=3,
    cpu_loads=(Load(StreamSpec("paced", 100, 10), concurrency=32, count=96),
               Load(StreamSpec("burst", 100), concurrency=8, count=160)),
    ttft_levels=(LatencyLevel(1, repeats=3, window=4.0, timeout=30, probes=1),
                 LatencyLevel(100, repeats=2, window=4.0, timeout=30),
                 LatencyLevel(1000, repeats=2, window=4.0, timeout=30)),
    hold_levels=(1000, 2000),
)

QUICK = Plan(
    repeats=1,
    cpu_loads=(Load(StreamSpec("paced", 20, 5), concurrency=8, count=16),
               Load(StreamSpec("burst", 50), concurrency=4, count=16)),
    ttft_levels=(LatencyLevel(1, repeats=1, window=1.0, timeout=15, probes=1),
                 LatencyLevel(50, repeats=1, window=1.5, timeout=20)),
    hold_levels=(100,),
    scale_levels=(200,),
    scale_window=1.0,
    scale_timeout=30.0,
    scale_stall=5.0,
    hold_timeout=15.0,
    hold_stall=2.0,
    warmup_streams=4,
    warmup_concurrency=2,
    core_seconds=0.3,
    sse_seconds=0.3,
    latency_repeats=1,
    latency_turns=8,
    leave_out=("litellm", "portkey", "agui-proxy-asyncio", "agui-proxy-httpx"),
)
