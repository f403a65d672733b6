"""File descriptors planned for at start: the soft ``RLIMIT_NOFILE`` raised to what
``streams.max_concurrent`` needs, or ``max_concurrent`` lowered to what the limit allows.

Each stream holds two descriptors (its client's connection and its upstream's), and the process
needs some more for itself (the listening socket, probes and scrapes, idle upstream connections,
connections still sending their headers, the store).  Under the common 1,024 soft limit the
default ``max_concurrent: 1000`` ran out: 600 held streams gave ``upstream_unavailable`` for runs
whose upstream was fine, and ``/healthz`` stopped answering (issue 26).  Like nginx's
``worker_rlimit_nofile``, the proxy raises its soft limit (a process may, up to its hard limit)
and, where even the hard limit is too low, admits no more streams than fit, so that a stream past
them gets ``503 overloaded`` and everything else keeps its descriptors.
"""

from __future__ import annotations

import resource

from ..config import Config

PER_STREAM = 2
RESERVE = 128  # the process's own descriptors and connections that are not streams


def needed(max_concurrent: int) -> int:
    return PER_STREAM * max_concurrent + RESERVE


def plan_descriptors(config: Config) -> tuple[Config, str]:
    """``config`` with a ``max_concurrent`` this process's descriptors allow, having raised the
    soft limit as far as it helps; and what was done, in words for the start-up summary."""
    wanted = config.streams.max_concurrent
    need = needed(wanted)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return config, f"soft limit {_shown(soft)}: enough for {wanted} streams"
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
    if target >= need:
        return config, f"raised the soft limit from {soft} to {target}: enough for {wanted} streams"
    allowed = max(1, (target - RESERVE) // PER_STREAM)
    streams = config.streams.model_copy(update={"max_concurrent": allowed})
    raised = f"raised the soft limit from {soft} to {target} (the hard limit); " if target > soft else ""
    return (config.model_copy(update={"streams": streams}),
            f"{raised}streams.max_concurrent lowered from {wanted} to {allowed}: {target} descriptors allow no "
            f"more (2 per stream and {RESERVE} for the process; raise the hard limit, ulimit -Hn, for more)")


def _shown(limit: int) -> str:
    return "unlimited" if limit == resource.RLIM_INFINITY else str(limit)
