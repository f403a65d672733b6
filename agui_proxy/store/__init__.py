"""The shared-state seam (ARCHITECTURE.md "One shared-state seam"): :class:`Store`, in memory or in Redis.

The Redis store is imported only when a config names one (``store.url``): redis-py 8 imports
OpenTelemetry when it is installed, which a proxy with tracing off must not pay for.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from ..config import StoreConfig
from .base import Admission, Charge, Counts, Lease, Store, Window
from .memory import MemoryStore

if TYPE_CHECKING:
    from .redis_store import RedisStore


def open_store(config: StoreConfig) -> Store:
    """The store ``store.url`` names: Redis, or this process's memory when it is absent."""
    if config.url is None:
        return MemoryStore()
    from .redis_store import RedisStore

    return RedisStore(config.url, timeout=config.timeout)


def redis_available() -> bool:
    """Whether the ``[redis]`` extra is installed (looked up without importing it)."""
    return importlib.util.find_spec("redis") is not None


def __getattr__(name: str) -> Any:
    if name == "RedisStore":  # for those who import it from here: loaded on first use
        from .redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Admission", "Charge", "Counts", "Lease", "MemoryStore", "RedisStore", "Store", "Window",
           "open_store", "redis_available"]
