"""The run log ``store.url`` names: Redis (every replica shares it), else this process's memory."""

from __future__ import annotations

from ..config import RunsConfig, StoreConfig
from .runs import RunLog
from .runs_memory import MemoryRunLog


def open_run_log(config: StoreConfig, runs: RunsConfig, max_frames: int) -> RunLog:
    """``max_frames``: the largest of the routes' caps (Redis's MAXLEN backstop)."""
    if config.url is None:
        return MemoryRunLog(max_bytes=runs.max_bytes)
    # Imported only when used: redis-py imports OpenTelemetry itself, and with tracing off nothing
    # of it may be loaded (tests/integration/test_tracing.py).
    from .runs_redis import RedisRunLog

    return RedisRunLog(config.url, timeout=config.timeout, prefix=config.prefix, max_frames=max_frames)
