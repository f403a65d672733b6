"""The Redis store: state shared by every worker and replica (``store.url: redis://...``).

It uses redis-py's asyncio client.  Each call is one Lua script, so a check and its increment are
atomic across processes (EVALSHA, falling back to EVAL once when Redis lost the script).  Every
key has a TTL (a slot lives two window lengths, a lease set as long as its last lease), so Redis
holds only what the current windows need.  All of one identity's keys carry the same ``{...}``
hash tag, so a script's keys share one Redis Cluster slot.

A call that fails or takes longer than ``store.timeout`` raises
:class:`~agui_proxy.errors.StoreUnavailable`: redis-py's own retries are off (a retry after a
timeout would double the wait), and the socket timeouts equal the call's, so a request never hangs
on Redis; what happens then is ``quotas.on_store_error``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Admission, Charge, Counts, Lease, Store, Window, slot_ttl
from .redis_calls import redis_client, run_script

# KEYS: for each window its current then previous slot, then the lease set (when ARGV[2] == "1").
# ARGV: window count, has lease, now, then per window fraction, limit, need, take, ttl, then the
# lease's limit, id, expiry and ttl.  Returns {refused (0: admitted), held (-1: no lease), then
# previous, current per window}.
_ADMIT = """
local n = tonumber(ARGV[1])
local now = tonumber(ARGV[3])
local refused = 0
local out = {0, -1}
for i = 1, n do
  local a = 3 + (i - 1) * 5
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  out[2 * i + 1] = previous
  out[2 * i + 2] = current
  local fraction = tonumber(ARGV[a + 1])
  if refused == 0 and previous * (1.0 - fraction) + current + tonumber(ARGV[a + 3]) > tonumber(ARGV[a + 2]) then
    refused = i
  end
end
local lease_key = KEYS[2 * n + 1]
local l = 3 + n * 5
if ARGV[2] == '1' then
  redis.call('ZREMRANGEBYSCORE', lease_key, '-inf', now)
  local held = redis.call('ZCARD', lease_key)
  out[2] = held
  if refused == 0 and held + 1 > tonumber(ARGV[l + 1]) then
    refused = n + 1
  end
end
if refused == 0 then
  for i = 1, n do
    local a = 3 + (i - 1) * 5
    local take = tonumber(ARGV[a + 4])
    if take > 0 then
      redis.call('INCRBY', KEYS[2 * i - 1], take)
      redis.call('EXPIRE', KEYS[2 * i - 1], tonumber(ARGV[a + 5]))
    end
  end
  if ARGV[2] == '1' then
    redis.call('ZADD', lease_key, ARGV[l + 3], ARGV[l + 2])
    redis.call('EXPIRE', lease_key, tonumber(ARGV[l + 4]))
  end
end
out[1] = refused
return out
"""

# KEYS: the current slots to charge, then the lease set (when ARGV[1] == "1"); ARGV: has lease,
# the lease id, then for each slot its amount and ttl.
_SETTLE = """
local n = #KEYS
if ARGV[1] == '1' then
  n = n - 1
  redis.call('ZREM', KEYS[#KEYS], ARGV[2])
end
for i = 1, n do
  redis.call('INCRBY', KEYS[i], tonumber(ARGV[1 + 2 * i]))
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2 + 2 * i]))
end
return 0
"""


class RedisStore(Store):
    def __init__(self, url: str, *, timeout: float) -> None:
        self.timeout = timeout
        self._client = redis_client(url, timeout=timeout, socket_timeout=timeout)
        self._shas: dict[str, str] = {}

    async def _script(self, source: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await run_script(self._client, self._shas, source, keys, args, self.timeout)

    async def admit(self, windows: Sequence[Window], lease: Lease | None, now: float) -> Admission:
        keys = [key for w in windows for key in (w.current_key, w.previous_key)]
        args: list[Any] = [len(windows), "1" if lease else "0", repr(now)]
        for w in windows:
            args += [repr(w.fraction), w.limit, w.need, w.take, slot_ttl(w.seconds)]
        if lease is not None:
            keys.append(lease.key)
            args += [lease.limit, lease.lease_id, repr(lease.expires), max(1, int(lease.expires - now) + 1)]
        reply = await self._script(_ADMIT, keys, args)
        refused, held = int(reply[0]), int(reply[1])
        counts = tuple(Counts(int(reply[2 + 2 * i]), int(reply[3 + 2 * i])) for i in range(len(windows)))
        return Admission(refused - 1 if refused else None, counts, held if lease is not None else None)

    async def settle(self, charges: Sequence[Charge], release: Lease | None, now: float) -> None:
        if not charges and release is None:
            return
        keys = [c.current_key for c in charges]
        args: list[Any] = ["1" if release else "0", release.lease_id if release else ""]
        args += [value for c in charges for value in (c.amount, slot_ttl(c.seconds))]
        if release is not None:
            keys.append(release.key)
        await self._script(_SETTLE, keys, args)

    async def aclose(self) -> None:
        await self._client.aclose()
