"""The shared-state seam (ARCHITECTURE.md "One shared-state seam"): what the proxy keeps between
requests, in this process's memory or in Redis (``store.url``).

Two interfaces: the quota store (``quota_store.py``: quotas' counters and stream leases) and the
run log (``run_log.py``: resumable runs' frames).  Each backend implements both: ``memory.py``
(one process, the default) and ``redis.py`` (every worker and replica, with the rules every
Redis call follows).  :func:`open_store` and :func:`open_run_log` pick the backend ``store.url``
names.

The Redis module is imported only when a config names Redis: redis-py 8 imports OpenTelemetry
when it is installed, which a proxy with tracing off must not pay for
(tests/integration/test_tracing.py).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from ..config import RunsConfig, StoreConfig
from .memory import MemoryQuotaStore, MemoryRunLog
from .quota_store import Admission, Charge, Counts, Lease, QuotaStore, Window
from .run_log import Created, RunChunk, RunLog, run_key

if TYPE_CHECKING:
    from .redis import RedisQuotaStore, RedisRunLog


def open_store(config: StoreConfig) -> QuotaStore:
    """The quota store ``store.url`` names: Redis, or this process's memory when it is absent."""
    if config.url is None:
        return MemoryQuotaStore()
    from .redis import RedisQuotaStore

    return RedisQuotaStore(config.url, timeout=config.timeout)


def open_run_log(config: StoreConfig, runs: RunsConfig, max_frames: int) -> RunLog:
    """The run log ``store.url`` names (``max_frames``: the largest of the routes' caps, Redis's
    MAXLEN backstop), or one in this process's memory bounded by ``runs.max_bytes``."""
    if config.url is None:
        return MemoryRunLog(max_bytes=runs.max_bytes)
    from .redis import RedisRunLog

    return RedisRunLog(config.url, timeout=config.timeout, prefix=config.prefix, max_frames=max_frames)


def redis_available() -> bool:
    """Whether the ``[redis]`` extra is installed (looked up without importing it)."""
    return importlib.util.find_spec("redis") is not None


def __getattr__(name: str) -> Any:
    if name in ("RedisQuotaStore", "RedisRunLog"):  # for those who import them from here: loaded on first use
        from . import redis

        return getattr(redis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Admission", "Charge", "Counts", "Created", "Lease", "MemoryQuotaStore", "MemoryRunLog", "QuotaStore",
           "RedisQuotaStore", "RedisRunLog", "RunChunk", "RunLog", "Window", "open_run_log", "open_store",
           "redis_available", "run_key"]
