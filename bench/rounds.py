"""One measured round against one running contender: CPU per token, first-token latency, holding.

Each round reads the server's CPU time (and the upstream's, and the bench's own, to show neither
is the bottleneck) right before and right after its load, so rounds of different contenders can
be interleaved on a shared machine and compared by their medians.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from .load import StreamResult, Target, hold_streams, latency_under_load, run_streams
from .plan import LatencyLevel, Plan
from .procs import HOST, ServerProcess
from .streams import StreamSpec


@dataclass
class Live:
    """A contender that is up: its process and where its clients go."""

    name: str
    label: str
    process: ServerProcess | None  # None for the upstream measured directly (the baseline)
    target: Target


def loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process) since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # user..steal; guest is inside user


def _errors(results: list[StreamResult]) -> list[str]:
    seen: dict[str, int] = {}
    for r in results:
        if r.error:
            seen[r.error[:160]] = seen.get(r.error[:160], 0) + 1
    return [f"{n}x {e}" for e, n in sorted(seen.items(), key=lambda kv: -kv[1])[:5]]


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; ``inf`` entries (no first token) count as the slowest."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


class Meter:
    """CPU seconds of the server, the upstream and this process over a stretch of time."""

    def __init__(self, server: ServerProcess | None, upstream: ServerProcess) -> None:
        self.server, self.upstream = server, upstream

    def __enter__(self) -> Meter:
        self.load = loadavg()
        self.wall0 = time.perf_counter()
        self.server0 = self.server.cpu_seconds() if self.server else 0.0
        self.up0 = self.upstream.cpu_seconds()
        self.me0 = time.process_time()
        self.busy0 = machine_busy_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.server_cpu = (self.server.cpu_seconds() if self.server else 0.0) - self.server0
        self.upstream_cpu = self.upstream.cpu_seconds() - self.up0
        self.client_cpu = time.process_time() - self.me0
        busy = machine_busy_seconds() - self.busy0
        # What the rest of the machine (other people's work) used meanwhile, in cores.
        self.others_cores = max(busy - self.server_cpu - self.upstream_cpu - self.client_cpu, 0.0) / self.wall

    def record(self) -> dict[str, Any]:
        return {"wall_s": self.wall, "server_cpu_s": self.server_cpu, "upstream_cpu_s": self.upstream_cpu,
                "client_cpu_s": self.client_cpu, "loadavg": self.load, "others_cores": self.others_cores}


def cpu_round(live: Live, upstream: ServerProcess, spec: StreamSpec, concurrency: int, count: int,
              timeout: float) -> dict[str, Any]:
    """Server CPU microseconds per streamed token over ``count`` streams."""
    with Meter(live.process, upstream) as meter:
        results = asyncio.run(run_streams(live.target, spec, concurrency=concurrency, count=count, timeout=timeout))
    exact = sum(r.exact for r in results)
    tokens = exact * spec.tokens
    return {"contender": live.name, "mode": spec.mode, "streams": len(results), "exact": exact,
            "tokens": tokens, "cpu_us_per_token": meter.server_cpu * 1e6 / tokens if tokens else None,
            "errors": _errors(results), **meter.record()}


def ttft_round(live: Live, upstream: ServerProcess, plan: Plan, level: LatencyLevel) -> dict[str, Any]:
    """Time to first token of short streams while ``level.concurrency`` streams are open."""
    background = plan.background_spec(level)
    with Meter(live.process, upstream) as meter:
        seen = asyncio.run(latency_under_load(live.target, background, level.background, plan.probe_spec(),
                                              min(level.probes, level.concurrency), ramp=level.ramp,
                                              settle=level.settle, window=level.window, timeout=level.timeout))
    ttfts = [r.ttft if r.ttft is not None else float("inf") for r in seen.probes]
    return {"contender": live.name, "concurrency": level.concurrency, "probes": len(seen.probes),
            "probes_exact": sum(r.exact for r in seen.probes), "background": level.background,
            "background_open": seen.opened, "background_exact": sum(r.exact for r in seen.background),
            "interval_ms": background.interval_ms, "background_tokens": background.tokens,
            "streams": len(seen.probes) + level.background,
            "exact": sum(r.exact for r in seen.probes) + sum(r.exact for r in seen.background),
            "p50_ms": _percentile(ttfts, 50) * 1e3 if ttfts else None,
            "p99_ms": _percentile(ttfts, 99) * 1e3 if ttfts else None,
            "errors": _errors(seen.probes + seen.background), **meter.record()}


def _post(port: int, path: str) -> Any:
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nhost: {HOST}\r\ncontent-length: 0\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data.partition(b"\r\n\r\n")[2])


def hold_round(live: Live, upstream: ServerProcess, upstream_port: int, spec: StreamSpec, count: int,
               idle_rss: int, timeout: float, stall: float) -> dict[str, Any]:
    """Open ``count`` streams that stay open (the upstream holds them after the first token), read the
    server's memory while they are all open, then let them finish and check every one."""
    assert live.process is not None
    seen: dict[str, Any] = {}

    async def while_held(held: int) -> None:
        seen["held"] = held
        seen["rss"] = live.process.rss_bytes() if live.process else 0
        seen["fds"] = live.process.num_fds() if live.process else 0

    async def release() -> None:
        seen["released"] = await asyncio.get_running_loop().run_in_executor(None, _post, upstream_port, "/release")

    with Meter(live.process, upstream) as meter:
        held, results = asyncio.run(hold_streams(live.target, spec, count, while_held=while_held, release=release,
                                                 timeout=timeout, stall=stall))
    rss = int(seen.get("rss", 0))
    return {"contender": live.name, "streams": count, "held": held, "exact": sum(r.exact for r in results),
            "rss_idle_mb": idle_rss / 2**20, "rss_held_mb": rss / 2**20,
            "kb_per_stream": (rss - idle_rss) / 1024 / count if held == count else None,
            "server_fds": seen.get("fds"), "errors": _errors(results), **meter.record()}


def pid_cpu_share(meter_record: dict[str, Any], key: str) -> float:
    """A process's CPU over a round as a share of one core."""
    return meter_record[key] / meter_record["wall_s"] if meter_record["wall_s"] else 0.0

