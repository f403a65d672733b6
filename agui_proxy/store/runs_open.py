"""The run log ``store.url`` names: Redis (every replica shares it), else this process's memory."""

from __future__ import annotations

from ..config_quotas import StoreConfig
from .runs import RunLog
from .runs_memory import MemoryRunLog
from .runs_redis import RedisRunLog


def open_run_log(config: StoreConfig, max_frames: int) -> RunLog:
    if config.url is None:
        return MemoryRunLog()
    return RedisRunLog(config.url, timeout=config.timeout, prefix=config.prefix, max_frames=max_frames)
