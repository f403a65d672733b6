"""Scale rows: thousands of paced streams held open in one server process.

Per level (5,000 and 9,500 streams in the full run), against one contender:

1. open the streams (200 connections at a time), each a ``held`` stream: paced, a token every
   ``level / aggregate_tokens_per_s`` seconds (so all of them together ask 500 tokens/s of the
   2-core machine), its end waiting for the bench's release;
2. *time to open*: from the first connect until every stream has its first token;
3. memory per stream: (RSS with all open - RSS after warm-up) / streams, and the server's fds;
4. added first-token latency at that level: for ``window`` seconds, short probe streams one
   after the other through the contender and, at the same time, straight to the upstream; the
   added p50 / p99 is the contender's minus the upstream's;
5. release, and check every stream exact.

Two file descriptors per stream on HTTP/1.1 (the client's and the upstream's): 9,500 streams need
19,000 in the server, so :func:`raise_fd_limit` lifts this process's soft limit to the hard one
(20,000 here) before any server starts; the servers inherit it.
"""

from __future__ import annotations

import asyncio
import math
import resource
import time
from typing import Any

from .load import Target, hold_streams, run_streams
from .procs import ServerProcess
from .rounds import Live, Meter, _errors, _percentile, _post
from .streams import StreamSpec


def raise_fd_limit() -> tuple[int, int]:
    """Soft file-descriptor limit up to the hard one; returns ``(soft, hard)`` now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def held_spec(level: int, aggregate_tokens_per_s: float, tokens: int) -> StreamSpec:
    interval_ms = max(10.0, 1000.0 * level / aggregate_tokens_per_s)
    return StreamSpec("held", tokens, interval_ms)


def _added(through: list[float], direct: list[float], q: float) -> float | None:
    if not through or not direct:
        return None
    return _percentile(through, q) * 1e3 - _percentile(direct, q) * 1e3


def scale_round(live: Live, direct: Target, upstream: ServerProcess, upstream_port: int, level: int, idle_rss: int, *,
                aggregate_tokens_per_s: float, tokens: int, probe: StreamSpec, window: float,
                timeout: float, stall: float) -> dict[str, Any]:
    assert live.process is not None
    process = live.process
    spec = held_spec(level, aggregate_tokens_per_s, tokens)
    seen: dict[str, Any] = {}
    started = time.perf_counter()

    async def while_held(held: int) -> None:
        seen["open_s"] = time.perf_counter() - started
        seen["held"] = held
        seen["rss"] = process.rss_bytes()
        seen["fds"] = process.num_fds()
        left = max(timeout - (time.perf_counter() - started), 5.0)
        through, straight = await asyncio.gather(
            run_streams(live.target, probe, concurrency=2, count=10**9, window=window, timeout=min(left, window + 30)),
            run_streams(direct, probe, concurrency=2, count=10**9, window=window, timeout=min(left, window + 30)))
        seen["probes"], seen["direct"] = through, straight

    async def release() -> None:
        await asyncio.get_running_loop().run_in_executor(None, _post, upstream_port, "/release")

    with Meter(process, upstream) as meter:
        held, results = asyncio.run(hold_streams(live.target, spec, level, while_held=while_held, release=release,
                                                 timeout=timeout, stall=stall))
    probes, straight = seen.get("probes", []), seen.get("direct", [])
    ttft = [r.ttft if r.ttft is not None else math.inf for r in probes]
    base = [r.ttft if r.ttft is not None else math.inf for r in straight]
    rss = int(seen.get("rss", 0))
    all_held = held == level
    return {"contender": live.name, "streams": level, "held": held, "exact": sum(r.exact for r in results),
            "interval_ms": spec.interval_ms, "open_s": seen.get("open_s") if all_held else None,
            "rss_idle_mb": idle_rss / 2**20, "rss_held_mb": rss / 2**20,
            "kb_per_stream": (rss - idle_rss) / 1024 / level if all_held else None,
            "server_fds": seen.get("fds"), "probes": len(probes),
            "probes_exact": sum(r.exact for r in probes), "direct_probes": len(straight),
            "p50_ms": _percentile(ttft, 50) * 1e3 if ttft else None,
            "p99_ms": _percentile(ttft, 99) * 1e3 if ttft else None,
            "added_p50_ms": _added(ttft, base, 50), "added_p99_ms": _added(ttft, base, 99),
            "errors": _errors(results + probes), "wall_s": meter.wall, "server_cpu_s": meter.server_cpu,
            "loadavg": meter.load}
