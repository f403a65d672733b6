"""The rules every call to Redis follows, for both Redis-backed parts of the store (quotas'
counters, resumable runs' frames): bounded by a timeout, failures as
:class:`~agui_proxy.errors.StoreUnavailable` (never redis-py's own exceptions), Lua scripts by
``EVALSHA`` with one ``EVAL`` when Redis lost the script."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from ..errors import StoreUnavailable

try:  # the [redis] extra
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import NoScriptError, RedisError
except ImportError:  # pragma: no cover - reported by open_store
    aioredis = None  # type: ignore[assignment]
    NoScriptError = RedisError = OSError  # type: ignore[assignment,misc]


def redis_client(url: str, *, timeout: float, socket_timeout: float | None) -> Any:
    """An asyncio client with redis-py's own retries off (a retry after a timeout would double the
    wait; the store's callers decide what a failure means).  The retry object is the asyncio one:
    redis-py 8 warns when the asyncio client is given the synchronous ``redis.retry.Retry``."""
    if aioredis is None:
        raise RuntimeError("store.url needs the redis package: pip install 'agui-proxy[redis]'")
    return aioredis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=timeout,
                                   retry=Retry(NoBackoff(), 0), health_check_interval=0)


async def bounded(call: Awaitable[Any], timeout: float) -> Any:
    """``call``'s result, or :class:`StoreUnavailable` when it fails or takes over ``timeout`` s."""
    try:
        async with asyncio.timeout(timeout):
            return await call
    except TimeoutError:
        raise StoreUnavailable(f"Redis did not answer within {timeout:g} s") from None
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"Redis failed: {type(exc).__name__}: {exc}") from None


async def run_script(client: Any, shas: dict[str, str], source: str, keys: Sequence[str], args: Sequence[Any],
                     timeout: float) -> Any:
    """Run a Lua script (loaded once per client; ``shas`` remembers it), within ``timeout``."""

    async def call() -> Any:
        sha = shas.get(source)
        if sha is None:
            sha = shas[source] = str(await client.script_load(source))
        try:
            return await client.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:  # Redis restarted or was flushed: load it again
            return await client.eval(source, len(keys), *keys, *args)

    return await bounded(call(), timeout)
