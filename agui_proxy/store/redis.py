"""The Redis store: state shared by every worker and replica (``store.url: redis://...``).

Imported only when ``store.url`` names Redis (``store/__init__.py``): redis-py imports
OpenTelemetry itself when it is installed, which a proxy with tracing off must not load.

The rules every call to Redis follows (:func:`bounded`, :func:`run_script`): bounded by a
timeout (``store.timeout``), failures as :class:`~agui_proxy.errors.StoreUnavailable` (never
redis-py's own exceptions, whose own retries are off: a retry after a timeout would double the
wait), Lua scripts by ``EVALSHA`` with one ``EVAL`` when Redis lost the script.  So a request never
hangs on Redis; what happens then is ``quotas.on_store_error``.

:class:`RedisQuotaStore`: quotas' counters.  Each call is one Lua script, so a check and its
increment are atomic across processes.  Every key has a TTL (a slot lives two window lengths, a
lease set as long as its last lease), so Redis holds only what the current windows need.  All of
one identity's keys carry the same ``{...}`` hash tag, so a script's keys share one Redis Cluster
slot.

:class:`RedisRunLog`: resumable runs' frames, so any replica or worker serves any reattach.
Per run (``run_key``), three keys sharing one ``{...}`` hash tag::

    <prefix>run:{<key>}:meta      exists while the run is kept (SET NX: a run id is taken once)
    <prefix>run:{<key>}:frames    a Stream; entry 0-<seq> holds frame seq in field f, and the
                                  end entry (after the last frame) the terminator in field e
    <prefix>run:{<key>}:readers   a sorted set: reader -> until when it is attached (epoch s)

and ``<prefix>runs``, every kept run by creation time, which bounds how many are kept
(``runs.max_kept``, ``runs.max_kept_per_identity``: the oldest ended runs are dropped for a new
one, never a running one; with none ended, the new run is refused).  ``XADD`` carries a ``MAXLEN`` cap as a backstop to
the writer's own (``resumable.max_frames``); the keys expire ``ttl`` after the last write while
the run goes on (so a run whose process died goes away) and ``keep`` after its end.  Readers
follow with ``XREAD BLOCK`` on a connection of their own, whose socket waits as long as the block.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from typing import Any

from ..errors import StoreUnavailable
from .quota_store import Admission, Charge, Counts, Lease, QuotaStore, Window, slot_ttl
from .run_log import Created, RunChunk, RunLog, run_owner

try:  # the [redis] extra
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import NoScriptError, RedisError
except ImportError:  # pragma: no cover - reported by open_store
    aioredis = None  # type: ignore[assignment]
    NoScriptError = RedisError = OSError  # type: ignore[assignment,misc]



# -- the rules of every call --------------------------------------------------------------------


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


# -- quotas' counters ---------------------------------------------------------------------------

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

# KEYS: the lease set; ARGV: the lease id, now, its new expiry, the set's ttl.  Returns 1 when the
# lease was held (its expiry moved), 0 when it was released or had expired (nothing changed).
_RENEW = """
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires or tonumber(expires) <= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
end
return 1
"""


class RedisQuotaStore(QuotaStore):
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

    async def renew(self, lease: Lease, now: float) -> bool:
        args = [lease.lease_id, repr(now), repr(lease.expires), max(1, int(lease.expires - now) + 1)]
        return bool(int(await self._script(_RENEW, [lease.key], args)))

    async def aclose(self) -> None:
        await self._client.aclose()


# -- resumable runs' frames ----------------------------------------------------------------------

# KEYS: meta, index.  ARGV: index member (the run key), ttl ms, max kept, now, prefix, max per
# owner, owner.  Room is made by dropping ended runs only (their last stream entry is the end),
# oldest first: the owner's own, then anyone's; runs whose keys expired leave the index on the
# way.  Returns 1 (created), 0 (exists), -1 (full of running runs), -2 (the owner's share is).
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local function state(member)
  local base = ARGV[5] .. 'run:{' .. member .. '}:'
  if redis.call('EXISTS', base .. 'meta') == 0 then return 'gone' end
  local last = redis.call('XREVRANGE', base .. 'frames', '+', '-', 'COUNT', 1)
  if #last > 0 and last[1][2][1] == 'e' then return 'ended' end
  return 'running'
end
local function drop(member)
  local base = ARGV[5] .. 'run:{' .. member .. '}:'
  redis.call('DEL', base .. 'meta', base .. 'frames', base .. 'readers')
  redis.call('ZREM', KEYS[2], member)
end
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
local kept, owned, prefix = {}, 0, ARGV[7] .. ':'
for _, member in ipairs(members) do
  local s = state(member)
  if s == 'gone' then drop(member) else
    kept[#kept + 1] = {member, s}
    if string.sub(member, 1, #prefix) == prefix then owned = owned + 1 end
  end
end
local function drop_ended(own)
  for i, entry in ipairs(kept) do
    if entry[2] == 'ended' and (not own or string.sub(entry[1], 1, #prefix) == prefix) then
      drop(entry[1])
      table.remove(kept, i)
      return true
    end
  end
  return false
end
if owned >= tonumber(ARGV[6]) and not drop_ended(true) then return -2 end
while #kept >= tonumber(ARGV[3]) do
  if not drop_ended(false) then return -1 end
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
"""

# KEYS: meta, frames, readers.  ARGV: ttl ms, maxlen, field (f or e), first seq, values...
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local first = tonumber(ARGV[4])
for i = 5, #ARGV do
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], '0-' .. (first + i - 5), ARGV[3], ARGV[i])
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
"""

# KEYS: meta, frames.  Returns the last frame's seq, 0 for none, -1 when there is no run.
_LAST_SEQ = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #last == 0 then return 0 end
local seq = tonumber(string.match(last[1][1], '-(%d+)$'))
if last[1][2][1] == 'e' then return seq - 1 end
return seq
"""

# KEYS: readers.  ARGV: now.
_READERS = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
"""

# KEYS: readers.  ARGV: until (epoch s), reader, ttl ms.  The set lives as long as its longest
# presence, so readers that all died go away with it.
_ATTACH = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if left == -1 or left < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
"""

_READ_BATCH = 1000  # stream entries one XREAD returns at most


class RedisRunLog(RunLog):
    def __init__(self, url: str, *, timeout: float, prefix: str, max_frames: int = 1_000_000) -> None:
        self.timeout = timeout
        self._prefix = prefix
        self._maxlen = max_frames + 1  # the end entry too
        self._client = redis_client(url, timeout=timeout, socket_timeout=timeout)
        # XREAD BLOCK holds its connection for the wait: its own pool, its own socket timeout (per call).
        self._blocking = redis_client(url, timeout=timeout, socket_timeout=None)
        self._shas: dict[str, str] = {}

    def _keys(self, key: str) -> tuple[str, str, str]:
        base = f"{self._prefix}run:{{{key}}}:"
        return base + "meta", base + "frames", base + "readers"

    async def _script(self, source: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await run_script(self._client, self._shas, source, keys, args, self.timeout)

    async def create(self, key: str, *, ttl: float, max_kept: int, max_per_owner: int) -> Created:
        meta, _, _ = self._keys(key)
        created = await self._script(_CREATE, [meta, self._prefix + "runs"],
                                     [key, _ms(ttl), max_kept, repr(time.time()), self._prefix, max_per_owner,
                                      run_owner(key)])
        return Created(int(created))

    async def append(self, key: str, first_seq: int, frames: Sequence[bytes], *, ttl: float) -> bool:
        if not frames:
            return True
        return bool(await self._script(_APPEND, self._keys(key), [_ms(ttl), self._maxlen, "f", first_seq, *frames]))

    async def finish(self, key: str, seq: int, terminator: bytes, *, keep: float) -> None:
        await self._script(_APPEND, self._keys(key), [_ms(keep), self._maxlen, "e", seq, terminator])

    async def last_seq(self, key: str) -> int | None:
        meta, frames, _ = self._keys(key)
        seq = int(await self._script(_LAST_SEQ, [meta, frames], []))
        return None if seq < 0 else seq

    async def read(self, key: str, after: int, *, wait: float) -> RunChunk | None:
        meta, frames, _ = self._keys(key)

        async def follow() -> Any:
            reply = await self._blocking.xread({frames: f"0-{after}"}, count=_READ_BATCH,
                                               block=max(1, int(wait * 1000)))
            return reply if reply or await self._blocking.exists(meta) else None

        reply = await bounded(follow(), wait + self.timeout)
        return None if reply is None else _chunk(reply)

    async def attach(self, key: str, reader: str, *, ttl: float) -> None:
        _, _, readers = self._keys(key)
        await self._script(_ATTACH, [readers], [repr(time.time() + ttl), reader, _ms(ttl)])

    async def detach(self, key: str, reader: str) -> None:
        _, _, readers = self._keys(key)
        await bounded(self._client.zrem(readers, reader), self.timeout)

    async def readers(self, key: str) -> int:
        _, _, readers = self._keys(key)
        return int(await self._script(_READERS, [readers], [repr(time.time())]))

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._blocking.aclose()


def _chunk(reply: Any) -> RunChunk:
    """XREAD's ``[[stream, [(id, {field: value})...]]]`` as frames and the end."""
    got: list[tuple[int, bytes]] = []
    end: bytes | None = None
    for _, entries in reply or ():
        for entry_id, fields in entries:
            if b"e" in fields:
                end = bytes(fields[b"e"])
                break
            got.append((int(bytes(entry_id).rpartition(b"-")[2]), bytes(fields[b"f"])))
    return RunChunk(got, end)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
