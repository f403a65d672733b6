"""Added latency per request: what a contender adds to a short answer, one request at a time.

Each request opens a new connection (as a browser's first request does), sends a request for a
20-token answer that the upstream writes at once, and is timed from the connect to the last byte
of the response.  The contenders and the upstream itself take turns request by request (the
order rotates every turn), so all of them see the same machine at nearly the same moment; the
*added* latency of a contender is its percentile minus the upstream's own percentile over the
same turns.  Every response is checked exactly, as in every other phase.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from .check import check_body
from .load import Target, connect
from .streams import StreamSpec


@dataclass
class Timings:
    """One target's requests of the phase."""

    seconds: list[float] = field(default_factory=list)  # connect to last byte, exact requests only
    errors: list[str] = field(default_factory=list)


async def one_request(target: Target, spec: StreamSpec, request: bytes, timeout: float) -> tuple[float, str]:
    """Seconds from the connect to the response's last byte, and ``""`` or what was wrong."""
    started = time.perf_counter()
    conn = None
    try:
        conn = await asyncio.wait_for(connect(target.port), timeout)
        status, body, _ = await asyncio.wait_for(conn.request(request), timeout)
    except (OSError, TimeoutError) as exc:
        return time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    finally:
        if conn is not None:
            conn.close()
    took = time.perf_counter() - started
    return took, check_body(target.kind, status, body, spec)


async def interleaved(targets: list[Target], spec: StreamSpec, turns: int, timeout: float) -> dict[str, Timings]:
    """``turns`` requests to each target, one at a time, the targets taking turns in a rotating order."""
    out = {t.name: Timings() for t in targets}
    requests = {t.name: t.request(spec) for t in targets}
    for turn in range(turns):
        shift = turn % len(targets)
        for target in targets[shift:] + targets[:shift]:
            took, error = await one_request(target, spec, requests[target.name], timeout)
            timings = out[target.name]
            if error:
                timings.errors.append(error[:160])
            else:
                timings.seconds.append(took)
    return out


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, or ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summarise(upstream: str, found: dict[str, Timings], repeat: int) -> list[dict[str, Any]]:
    """A row per target: its p50 and p90 in ms, and the same minus the upstream's."""
    base = found[upstream]
    base50, base90 = percentile(base.seconds, 50), percentile(base.seconds, 90)
    rows = []
    for name, timings in found.items():
        p50, p90 = percentile(timings.seconds, 50), percentile(timings.seconds, 90)
        rows.append({
            "contender": name, "repeat": repeat, "requests": len(timings.seconds) + len(timings.errors),
            "exact": len(timings.seconds), "errors": sorted(set(timings.errors))[:3],
            "p50_ms": p50 * 1e3 if p50 is not None else None, "p90_ms": p90 * 1e3 if p90 is not None else None,
            "added_p50_ms": (p50 - base50) * 1e3 if p50 is not None and base50 is not None else None,
            "added_p90_ms": (p90 - base90) * 1e3 if p90 is not None and base90 is not None else None,
        })
    return rows


def fmt_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"
