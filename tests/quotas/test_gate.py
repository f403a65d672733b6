"""The quota gate (admit before the upstream, finish after the run) on both stores, with the test's clock."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agui_proxy.config import QuotasConfig
from agui_proxy.errors import InboundError, QuotaExceeded, StoreUnavailable
from agui_proxy.quotas import QuotaGate, QuotaMetrics
from agui_proxy.store import Lease, MemoryQuotaStore, QuotaStore
from agui_proxy.store.redis import RedisQuotaStore

from ..support.clock import ManualClock
from ..support.redis_server import RedisServer

T0 = 1_800_000_000.0  # a minute and a day boundary


def run(make_store: Callable[[], QuotaStore], quotas: dict[str, Any],
        body: Callable[[QuotaGate, ManualClock], Awaitable[Any]]) -> tuple[Any, CollectorRegistry]:
    registry = CollectorRegistry()
    clock = ManualClock(T0 + 1)

    async def main() -> Any:
        store = make_store()
        gate = QuotaGate(QuotasConfig(**quotas), store, prefix=f"t-{uuid.uuid4().hex}:",
                         metrics=QuotaMetrics(registry), clock=clock, timer=clock.call_later)
        try:
            return await body(gate, clock)
        finally:
            await gate.aclose()
            await store.aclose()
    return asyncio.run(main()), registry


def refused(registry: CollectorRegistry, reason: str) -> float:
    return registry.get_sample_value("agui_proxy_quota_refusals_total", {"reason": reason}) or 0.0


def test_requests_per_minute(make_store: Callable[[], QuotaStore]) -> None:
    async def body(gate: QuotaGate, clock: ManualClock) -> QuotaExceeded:
        for i in range(3):
            ticket = await gate.admit("alice", {})
            assert dict(ticket.headers)[b"ratelimit"] == f'"requests_per_minute";r={2 - i}'.encode()
        with pytest.raises(QuotaExceeded) as caught:
            await gate.admit("alice", {})
        await gate.admit("bob", {})  # another identity has its own budget
        return caught.value

    error, registry = run(make_store, {"per_identity": {"requests_per_minute": 3}}, body)
    assert (error.status, error.type) == (429, "rate_limited")
    # The three requests at T0+1 fill the current slot: 59 s until the next one, where they weigh
    # 3 * (1 - fraction) and fall to 2 (room for one) a third of the way in, 20 s later.
    assert error.retry_after == 79
    assert error.message == ("over the quota of 3 requests per minute: it resets in 79 s "
                             "(at 2027-01-15T08:01:20Z)")
    headers = dict(error.headers)
    assert headers[b"ratelimit-policy"] == b'"requests_per_minute";q=3;w=60'
    assert headers[b"ratelimit"] == b'"requests_per_minute";r=0;t=79'
    assert refused(registry, "requests_per_minute") == 1


def test_tokens_charged_from_usage_then_refused(make_store: Callable[[], QuotaStore]) -> None:
    async def body(gate: QuotaGate, clock: ManualClock) -> list[Any]:
        out = []
        first = await gate.admit("alice", {})
        await gate.finish(first, tokens=900, estimate_bytes=0)
        second = await gate.admit("alice", {})  # 900 of 1000 used: still room
        await gate.finish(second, tokens=150, estimate_bytes=0)
        with pytest.raises(QuotaExceeded) as caught:
            await gate.admit("alice", {})
        out.append(caught.value)
        clock.now += 3600  # an hour later the minute is clear, the day is not
        with pytest.raises(QuotaExceeded) as day:
            await gate.admit("alice", {})
        out.append(day.value)
        return out

    quotas = {"per_identity": {"tokens_per_minute": 1000, "tokens_per_day": 1000}}
    (minute, day), registry = run(make_store, quotas, body)
    assert "over the quota of 1000 tokens per minute" in minute.message
    assert "over the quota of 1000 tokens per day" in day.message and "resets in" in day.message
    assert dict(day.headers)[b"ratelimit-policy"] == (
        b'"tokens_per_minute";q=1000;w=60;agui-unit="tokens", "tokens_per_day";q=1000;w=86400;agui-unit="tokens"')
    assert registry.get_sample_value("agui_proxy_quota_tokens_charged_total", {"source": "usage"}) == 1050


def test_a_run_without_usage_is_charged_its_bytes(make_store: Callable[[], QuotaStore]) -> None:
    async def body(gate: QuotaGate, clock: ManualClock) -> None:
        ticket = await gate.admit("leaver", {})
        await gate.finish(ticket, tokens=None, estimate_bytes=400)  # 100 tokens at 4 bytes each
        await gate.finish(ticket, tokens=None, estimate_bytes=400)  # finishing twice charges once
        with pytest.raises(QuotaExceeded):
            await gate.admit("leaver", {})

    _, registry = run(make_store, {"per_identity": {"tokens_per_day": 100}}, body)
    assert registry.get_sample_value("agui_proxy_quota_tokens_charged_total", {"source": "estimate"}) == 100


def test_concurrent_streams(make_store: Callable[[], QuotaStore]) -> None:
    async def body(gate: QuotaGate, clock: ManualClock) -> QuotaExceeded:
        first, _second = await gate.admit("alice", {}), await gate.admit("alice", {})
        with pytest.raises(QuotaExceeded) as caught:
            await gate.admit("alice", {})
        await gate.finish(first, tokens=None, estimate_bytes=0)
        await gate.admit("alice", {})  # a slot was given back
        return caught.value

    error, _ = run(make_store, {"per_identity": {"concurrent_streams": 2}}, body)
    assert error.message == "over the quota of 2 streams at once: one of them must end first"
    assert error.retry_after == 1
    assert dict(error.headers)[b"ratelimit-policy"] == b'"concurrent_streams";q=2;qu="concurrent-requests"'


def test_a_plan_picked_by_a_claim(make_store: Callable[[], QuotaStore]) -> None:
    async def body(gate: QuotaGate, clock: ManualClock) -> tuple[int, int, int]:
        counts = []
        for claims in ({"plan": "pro"}, {"plan": "unknown"}, {}):
            admitted = 0
            user = uuid.uuid4().hex
            for _ in range(6):
                try:
                    await gate.admit(user, claims)
                    admitted += 1
                except QuotaExceeded:
                    break
            counts.append(admitted)
        return counts[0], counts[1], counts[2]

    quotas = {"per_identity": {"requests_per_minute": 2, "tokens_per_day": 10},
              "plans": {"claim": "plan", "limits": {"pro": {"requests_per_minute": 5}}}}
    assert run(make_store, quotas, body)[0] == (5, 2, 2)


def test_limit_zero_refuses_everything(make_store: Callable[[], QuotaStore]) -> None:
    async def body(gate: QuotaGate, clock: ManualClock) -> QuotaExceeded:
        with pytest.raises(QuotaExceeded) as caught:
            await gate.admit("alice", {})
        return caught.value

    error, _ = run(make_store, {"per_identity": {"requests_per_minute": 0}}, body)
    assert error.retry_after == 60


def test_no_limits_never_calls_the_store() -> None:
    class Failing(QuotaStore):
        async def admit(self, *args: Any) -> Any:
            raise AssertionError("called")
        settle = renew = admit

    async def body(gate: QuotaGate, clock: ManualClock) -> None:
        ticket = await gate.admit("alice", {})
        await gate.finish(ticket, tokens=10, estimate_bytes=0)

    run(Failing, {}, body)


class Unavailable(QuotaStore):
    def __init__(self) -> None:
        self.calls = 0

    async def admit(self, *args: Any) -> Any:
        self.calls += 1
        raise StoreUnavailable("Redis did not answer within 0.25 s")
    settle = renew = admit


@pytest.mark.parametrize("policy", ["allow", "deny"])
def test_store_error_policy(policy: str, caplog: pytest.LogCaptureFixture) -> None:
    async def body(gate: QuotaGate, clock: ManualClock) -> list[str]:
        outcomes = []
        for _ in range(5):
            try:
                ticket = await gate.admit("alice", {})
                await gate.finish(ticket, tokens=5, estimate_bytes=0)
                outcomes.append("allowed")
            except InboundError as exc:
                assert (exc.status, exc.type, exc.retry_after) == (503, "quota_store_unavailable", 1)
                outcomes.append("denied")
        return outcomes

    quotas = {"per_identity": {"requests_per_minute": 100, "tokens_per_day": 100}, "on_store_error": policy}
    outcomes, registry = run(Unavailable, quotas, body)
    assert outcomes == ["allowed" if policy == "allow" else "denied"] * 5
    errors = registry.get_sample_value("agui_proxy_store_errors_total", {"operation": "admit"})
    assert errors == 5
    if policy == "allow":  # the allowed runs' charges failed too
        assert registry.get_sample_value("agui_proxy_store_errors_total", {"operation": "settle"}) == 5
    else:
        assert refused(registry, "store_unavailable") == 5
    lines = [r for r in caplog.records if r.name == "agui_proxy.quotas" and r.levelno == logging.ERROR]
    assert len(lines) == 1  # once per error_log_interval, not once per request
    assert f"quotas.on_store_error: {policy}" in lines[0].getMessage()


def test_store_round_trips_are_timed(make_store: Callable[[], QuotaStore]) -> None:
    async def body(gate: QuotaGate, clock: ManualClock) -> None:
        ticket = await gate.admit("alice", {})
        await gate.finish(ticket, tokens=3, estimate_bytes=0)

    _, registry = run(make_store, {"per_identity": {"tokens_per_minute": 10, "concurrent_streams": 1}}, body)
    for operation in ("admit", "settle"):
        assert registry.get_sample_value("agui_proxy_store_seconds_count", {"operation": operation}) == 1


def test_a_release_that_failed_during_a_store_blip_is_retried(tmp_path: Path) -> None:
    """Redis pauses (SIGSTOP) while a stream's concurrent_streams slot is given back: the release
    fails, and is retried once Redis answers again, so the user is not locked out for the lease's
    hour."""
    async def main(server: RedisServer) -> None:
        store = RedisQuotaStore(server.url, timeout=0.25)
        gate = QuotaGate(QuotasConfig(per_identity={"concurrent_streams": 1}), store, prefix=f"t-{uuid.uuid4().hex}:")
        try:
            ticket = await gate.admit("alice", {})
            server.pause()
            try:
                await gate.finish(ticket, tokens=None, estimate_bytes=0)  # the release fails: logged, not raised
            finally:
                server.resume()
            deadline = time.monotonic() + 10
            while True:
                try:
                    await gate.finish(await gate.admit("alice", {}), tokens=None, estimate_bytes=0)
                    return
                except QuotaExceeded:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.05)
        finally:
            await gate.aclose()
            await store.aclose()

    with RedisServer(tmp_path) as server:
        asyncio.run(main(server))


# -- stream slots: short leases, renewed while their run goes on ------------------------------------

async def ticked(gate: QuotaGate, clock: ManualClock, seconds: float) -> None:
    """Move the clock by ``seconds`` (past one renewal tick) once every renewal waits for its timer,
    and wait until every renewal waits for its next one."""
    await all_asleep(gate, clock)
    clock.now += seconds
    await all_asleep(gate, clock)


async def all_asleep(gate: QuotaGate, clock: ManualClock) -> None:
    deadline = time.monotonic() + 5
    while clock.timers < gate.renewing:
        assert time.monotonic() < deadline, "a renewal never set its next timer"
        await asyncio.sleep(0.005)


async def none_renewing(gate: QuotaGate) -> None:
    deadline = time.monotonic() + 5
    while gate.renewing:
        assert time.monotonic() < deadline, "a renewal outlived its run"
        await asyncio.sleep(0.005)


def renewals(registry: CollectorRegistry) -> float:
    return registry.get_sample_value("agui_proxy_store_seconds_count", {"operation": "renew"}) or 0.0


def test_a_held_stream_slot_is_renewed_until_its_run_ends(make_store: Callable[[], QuotaStore]) -> None:
    """A 30 s lease is renewed every 10 s: at 40 s the slot is still taken; after finish no renewal is left."""
    async def body(gate: QuotaGate, clock: ManualClock) -> int:
        ticket = await gate.admit("alice", {})
        assert gate.renewing == 1
        await ticked(gate, clock, 20)
        await ticked(gate, clock, 20)  # 40 s after admission, past the lease's first expiry
        with pytest.raises(QuotaExceeded):
            await gate.admit("alice", {})
        await gate.finish(ticket, tokens=None, estimate_bytes=0)
        await none_renewing(gate)  # the renewal ends with its run
        clock.now += 60
        again = await gate.admit("alice", {})  # the slot was given back
        await gate.finish(again, tokens=None, estimate_bytes=0)
        await none_renewing(gate)
        return clock.timers

    held, registry = run(make_store, {"per_identity": {"concurrent_streams": 1}, "stream_lease": 30}, body)
    assert renewals(registry) == 2, "one renewal per tick while held, none after finish"
    assert held == 0, "a renewal still waits for its next tick"


class Flaky(MemoryQuotaStore):
    """A memory store whose renewals fail while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def renew(self, lease: Lease, now: float) -> bool:
        if self.down:
            raise StoreUnavailable("Redis did not answer within 0.25 s")
        return await super().renew(lease, now)


def test_a_failed_renewal_is_retried_and_a_lease_never_renewed_expires(caplog: pytest.LogCaptureFixture) -> None:
    stores: list[Flaky] = []

    def make() -> Flaky:
        stores.append(Flaky())
        return stores[-1]

    async def body(gate: QuotaGate, clock: ManualClock) -> None:
        store = stores[0]
        await gate.admit("alice", {})
        store.down = True
        await ticked(gate, clock, 10)  # fails: tried again at the next tick
        store.down = False
        await ticked(gate, clock, 10)  # 20 s: held until 50 s
        await ticked(gate, clock, 15)  # 35 s: held until 65 s
        with pytest.raises(QuotaExceeded):
            await gate.admit("alice", {})  # past the first expiry, still held
        store.down = True
        for _ in range(3):
            await ticked(gate, clock, 10)  # 45, 55 and 65 s: all fail, the lease expires at 65 s
        store.down = False
        await ticked(gate, clock, 10)  # 75 s: the store says it is gone; the renewal stops
        await none_renewing(gate)
        await gate.admit("alice", {})  # a lease whose renewals failed freed its slot

    with caplog.at_level(logging.WARNING, "agui_proxy.quotas"):
        _, registry = run(make, {"per_identity": {"concurrent_streams": 1}, "stream_lease": 30}, body)
    assert registry.get_sample_value("agui_proxy_store_errors_total", {"operation": "renew"}) == 4
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None and "renew" in errors[0].getMessage()
    assert any("slot expired while its run went on" in r.getMessage() for r in caplog.records)
