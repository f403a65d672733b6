"""How big each phase is: the full run (about 10 minutes) and the ``--quick`` smoke run.

Paced streams send a token every ``interval_ms``; in the latency rounds the interval grows with
the concurrency so that all streams together ask for at most ``aggregate_tokens_per_s`` (the
machine has 2 shared cores: past that, a round measures the queue of a saturated machine, not
what a proxy adds).  The interval used at each level is written into the results.
"""

from __future__ import annotations

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
    concurrency: int
    count: int  # streams in one round (each connection runs count / concurrency in turn)
    tokens: int
    repeats: int
    timeout: float


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
    aggregate_tokens_per_s: float = 2000.0
    round_timeout: float = 120.0
    warmup_streams: int = 20
    warmup_concurrency: int = 4
    core_seconds: float = 6.0
    sse_seconds: float = 6.0
    leave_out: tuple[str, ...] = field(default=())

    def interval_ms(self, concurrency: int) -> float:
        return max(self.base_interval_ms, 1000.0 * concurrency / self.aggregate_tokens_per_s)

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out["ttft_intervals_ms"] = {lv.concurrency: self.interval_ms(lv.concurrency) for lv in self.ttft_levels}
        return out


FULL = Plan(
    repeats=5,
    cpu_loads=(Load(StreamSpec("paced", 100, 10), concurrency=32, count=96),
               Load(StreamSpec("burst", 100), concurrency=8, count=160)),
    ttft_levels=(LatencyLevel(1, count=40, tokens=5, repeats=3, timeout=60),
                 LatencyLevel(100, count=400, tokens=20, repeats=3, timeout=60),
                 LatencyLevel(1000, count=2000, tokens=10, repeats=2, timeout=45)),
    hold_levels=(1000, 2000, 4000),
)

QUICK = Plan(
    repeats=1,
    cpu_loads=(Load(StreamSpec("paced", 20, 5), concurrency=8, count=16),
               Load(StreamSpec("burst", 50), concurrency=4, count=16)),
    ttft_levels=(LatencyLevel(1, count=5, tokens=3, repeats=1, timeout=20),
                 LatencyLevel(50, count=100, tokens=5, repeats=1, timeout=20)),
    hold_levels=(100,),
    hold_timeout=15.0,
    hold_stall=2.0,
    warmup_streams=4,
    warmup_concurrency=2,
    core_seconds=0.3,
    sse_seconds=0.3,
    leave_out=("litellm", "agui-proxy-asyncio"),
)
