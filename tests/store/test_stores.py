"""The two stores give the same answers for the same calls: one test body, both stores.

The Redis one is a real ``redis-server`` (tests/redis_server.py); each test uses its own key
prefix, so tests never see each other's keys.  Time is passed in (``now``), as the quota gate
does, so both stores decide with the same numbers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from agui_proxy.errors import StoreUnavailable
from agui_proxy.store import Charge, Lease, MemoryQuotaStore, QuotaStore, RedisQuotaStore, Window
from tests.support.redis_server import RedisServer

T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)


def run(make_store: Callable[[], QuotaStore], body: Callable[[QuotaStore, str], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        store = make_store()
        try:
            return await body(store, f"t-{uuid.uuid4().hex}:")
        finally:
            await store.aclose()
    return asyncio.run(main())


def minute(prefix: str, now: float, limit: int, *, take: int = 1, name: str = "rpm") -> Window:
    slot = int(now // 60)
    return Window(f"{prefix}{name}:{slot}", f"{prefix}{name}:{slot - 1}", 60, (now - slot * 60) / 60, limit,
                  need=1, take=take)


async def requests_scenario(store: QuotaStore, prefix: str) -> list[Any]:
    """Three per minute: the fourth refused, the next slot weighs the last one in, tokens charged after."""
    answers: list[Any] = []
    for i in range(5):
        now = T0 + 10 + i
        admission = await store.admit([minute(prefix, now, 3)], None, now)
        answers.append(("rpm", i, admission.refused, [(c.previous, c.current) for c in admission.counts]))
    # 30 s into the next slot the previous one (3 requests) still weighs 1.5: 1 more fits, not 2.
    for i in range(2):
        now = T0 + 90 + i
        admission = await store.admit([minute(prefix, now, 3)], None, now)
        answers.append(("slide", i, admission.refused, [(c.previous, c.current) for c in admission.counts]))
    # Tokens: checked with need 1, take 0; charged afterwards.
    tokens = minute(prefix, T0 + 5, 100, take=0, name="tpm")
    answers.append(("tokens-before", (await store.admit([tokens], None, T0 + 5)).refused))
    await store.settle([Charge(tokens.current_key, 60, 99)], None, T0 + 5)
    answers.append(("tokens-99", (await store.admit([tokens], None, T0 + 5)).refused))
    await store.settle([Charge(tokens.current_key, 60, 1)], None, T0 + 5)
    answers.append(("tokens-100", (await store.admit([tokens], None, T0 + 5)).refused))
    return answers


def test_requests_and_tokens_same_answers(make_store: Callable[[], QuotaStore]) -> None:
    answers = run(make_store, requests_scenario)
    assert answers == run(MemoryQuotaStore, requests_scenario)
    assert [a[2] for a in answers[:5]] == [None, None, None, 0, 0]
    assert answers[3][3] == [(0, 3)]  # the refused request was not counted
    assert [a[2] for a in answers[5:7]] == [None, 0]
    assert answers[5][3] == [(3, 0)]
    assert answers[7:] == [("tokens-before", None), ("tokens-99", None), ("tokens-100", 0)]


async def all_or_nothing_scenario(store: QuotaStore, prefix: str) -> list[Any]:
    """A request refused by its second window takes nothing from the first."""
    now = T0 + 1
    wide, narrow = minute(prefix, now, 10, name="wide"), minute(prefix, now, 1, name="narrow")
    answers = [(await store.admit([wide, narrow], None, now)).refused,
               (await store.admit([wide, narrow], None, now)).refused]
    admission = await store.admit([wide], None, now)
    answers.append((admission.refused, admission.counts[0].current))
    return answers


def test_all_or_nothing(make_store: Callable[[], QuotaStore]) -> None:
    answers = run(make_store, all_or_nothing_scenario)
    assert answers == [None, 1, (None, 1)]


async def lease_scenario(store: QuotaStore, prefix: str) -> list[Any]:
    """Two streams at once: a third waits for one to end; an expired lease frees its slot."""
    key = f"{prefix}streams"
    now = T0
    a, b, c = (Lease(key, name, 2, now + 100) for name in "abc")
    answers = [(await store.admit([], a, now)).refused, (await store.admit([], b, now)).refused]
    refused = await store.admit([], c, now)
    answers.append((refused.refused, refused.held))
    await store.settle([], a, now)
    again = await store.admit([], c, now)
    answers.append((again.refused, again.held))
    # b and c expire at now + 100: after it, both slots are free without a release.
    later = await store.admit([], Lease(key, "d", 2, now + 300), now + 101)
    answers.append((later.refused, later.held))
    await store.settle([], Lease(key, "never-taken", 2, now), now)  # a no-op
    return answers


def test_leases(make_store: Callable[[], QuotaStore]) -> None:
    answers = run(make_store, lease_scenario)
    assert answers == [None, None, (0, 2), (None, 1), (None, 0)]


async def renew_scenario(store: QuotaStore, prefix: str) -> list[Any]:
    """A held lease is renewed (it outlives its first expiry); a released or expired one is not revived."""
    key = f"{prefix}streams"
    now = T0
    held, released, lapsed = (Lease(key, name, 3, now + 30) for name in ("held", "released", "lapsed"))
    for lease in (held, released, lapsed):
        assert (await store.admit([], lease, now)).admitted
    await store.settle([], released, now)
    answers = [await store.renew(replace(held, expires=now + 50), now + 20),
               await store.renew(replace(released, expires=now + 50), now + 20),
               await store.renew(replace(lapsed, expires=now + 80), now + 31)]  # it expired at now + 30
    # At now + 40 only the renewed lease is held: one slot taken of 3.
    answers.append((await store.admit([], Lease(key, "x", 3, now + 70), now + 40)).held)
    # Past its renewed expiry the held lease is gone too, and renewing it does not bring it back.
    answers.append(await store.renew(replace(held, expires=now + 200), now + 51))
    answers.append((await store.admit([], Lease(key, "y", 1, now + 200), now + 71)).held)
    return answers


def test_renew_extends_only_a_held_lease(make_store: Callable[[], QuotaStore]) -> None:
    assert run(make_store, renew_scenario) == [True, False, False, 1, False, 0]


async def window_and_lease_scenario(store: QuotaStore, prefix: str) -> list[Any]:
    """A request refused for its stream slot takes no request from its window, and the reverse."""
    now = T0 + 2
    rpm = minute(prefix, now, 1)
    lease_key = f"{prefix}streams"
    first = await store.admit([rpm], Lease(lease_key, "a", 1, now + 100), now)
    second = await store.admit([minute(prefix, now, 5, name="other")], Lease(lease_key, "b", 1, now + 100), now)
    third = await store.admit([rpm], Lease(lease_key, "c", 5, now + 100), now)
    return [(first.refused, first.held), (second.refused, second.held), (third.refused, third.held)]


def test_window_and_lease_together(make_store: Callable[[], QuotaStore]) -> None:
    assert run(make_store, window_and_lease_scenario) == [(None, 0), (1, 1), (0, 1)]


def test_keys_expire_in_redis(redis_server: RedisServer) -> None:
    """Every key the store writes has a TTL: Redis keeps only what the current windows need."""
    import redis as sync_redis

    async def body(store: QuotaStore, prefix: str) -> None:
        await store.admit([minute(prefix, T0, 5)], Lease(f"{prefix}streams", "a", 3, T0 + 50), T0)
        await store.settle([Charge(f"{prefix}tpd:1", 86_400, 10)], None, T0)

    prefix_holder: list[str] = []

    async def recording(store: QuotaStore, prefix: str) -> None:
        prefix_holder.append(prefix)
        await body(store, prefix)

    run(lambda: RedisQuotaStore(redis_server.url, timeout=1.0), recording)
    client = sync_redis.Redis.from_url(redis_server.url)
    keys = client.keys(f"{prefix_holder[0]}*")
    assert len(keys) == 3
    ttls = {key.decode().removeprefix(prefix_holder[0]).split(":")[0]: client.ttl(key) for key in keys}
    assert 0 < ttls["rpm"] <= 121 and 0 < ttls["tpd"] <= 172_801 and 0 < ttls["streams"] <= 51
    client.close()


def test_unreachable_redis_fails_fast_with_store_unavailable() -> None:
    """A refused connection is StoreUnavailable, never redis-py's own exception."""
    from tests.support.proxy import free_port

    async def main() -> None:
        store = RedisQuotaStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
        try:
            with pytest.raises(StoreUnavailable, match="Redis failed"):
                await store.admit([minute("x:", T0, 1)], None, T0)
        finally:
            await store.aclose()
    asyncio.run(main())


def test_paused_redis_times_out_with_store_unavailable(tmp_path: Any) -> None:
    """A Redis that accepts the connection but never answers: StoreUnavailable after the timeout."""
    with RedisServer(tmp_path) as server:
        async def main() -> None:
            store = RedisQuotaStore(server.url, timeout=0.2)
            try:
                await store.admit([minute("p:", T0, 5)], None, T0)  # connected and scripts loaded
                server.pause()
                with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.2 s"):
                    await store.admit([minute("p:", T0, 5)], None, T0)
            finally:
                server.resume()
                await store.aclose()
        asyncio.run(main())
