"""The shared-state seam (ARCHITECTURE.md "One shared-state seam"): :class:`Store`, in memory or in Redis."""

from __future__ import annotations

from ..config_quotas import StoreConfig
from .base import Admission, Charge, Counts, Lease, Store, Window
from .memory import MemoryStore
from .redis_store import RedisStore, redis_available


def open_store(config: StoreConfig) -> Store:
    """The store ``store.url`` names: Redis, or this process's memory when it is absent."""
    if config.url is None:
        return MemoryStore()
    return RedisStore(config.url, timeout=config.timeout)


__all__ = ["Admission", "Charge", "Counts", "Lease", "MemoryStore", "RedisStore", "Store", "Window",
           "open_store", "redis_available"]
