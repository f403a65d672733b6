"""The quota check around one run: :meth:`QuotaGate.admit` before the upstream is called,
:meth:`QuotaGate.finish` when the run ends (its tokens charged, its stream slot given back).

A refusal is :class:`~agui_proxy.errors.QuotaExceeded` (429 with ``Retry-After`` and the
``RateLimit`` fields).  When the store fails, ``quotas.on_store_error`` decides: ``deny`` answers
503, ``allow`` lets the request through unchecked; either way the failure is counted in
``agui_proxy_store_errors_total`` and logged at most once per ``error_log_interval``.

A ``concurrent_streams`` slot is a short lease (``quotas.stream_lease``), renewed every third of
it while its run holds it: one timer per held slot, set at admission and cancelled by
:meth:`QuotaGate.finish` (a task only while a renewal is in flight).  So a process that dies
holding slots frees them within about a lease, and a renewal that fails (the store is down) is
tried again at the next tick; a slot whose renewals keep failing expires in the store, never
locking its user out.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from ..config import QuotaLimits, QuotasConfig
from ..errors import InboundError, QuotaExceeded, StoreUnavailable
from ..store import Admission, Charge, Lease, QuotaStore
from .metrics import QuotaMetrics
from .policy import (
    STREAMS,
    TOKEN_LIMITS,
    WINDOWED,
    NamedWindow,
    describe,
    identity_key,
    lease_for,
    limits_for,
    rate_limit_headers,
    remaining,
    seconds_until_room,
    wait_text,
    window,
    windows_for,
)

log = logging.getLogger("agui_proxy.quotas")
RELEASE_RETRY_FIRST = 0.5  # seconds before a failed slot release is tried again; doubled up to:
RELEASE_RETRY_MAX = 30.0
RENEWALS_PER_LEASE = 3  # a held stream slot is renewed every third of quotas.stream_lease
T = TypeVar("T")
ANONYMOUS = "anonymous"  # the one identity of every request when no auth is configured


class Cancellable(Protocol):
    def cancel(self) -> Any: ...


Timer = Callable[[float, Callable[[], None]], Cancellable]  # as the event loop's ``call_later``


def call_later(delay: float, callback: Callable[[], None]) -> Cancellable:
    return asyncio.get_running_loop().call_later(delay, callback)


@dataclass(slots=True, eq=False)
class QuotaTicket:
    """One admitted request: what :meth:`QuotaGate.finish` charges and releases."""

    base: str
    limits: QuotaLimits
    lease: Lease | None
    headers: tuple[tuple[bytes, bytes], ...]  # RateLimit fields of the admitted request
    finished: bool = False
    renewal: Cancellable | None = None  # the next renewal of ``lease`` (a timer), or the one in flight


class QuotaGate:
    def __init__(self, config: QuotasConfig, store: QuotaStore, *, prefix: str, metrics: QuotaMetrics | None = None,
                 clock: Callable[[], float] = time.time,
                 timer: Timer = call_later) -> None:
        self.config = config
        self.store = store
        self.prefix = prefix
        self.metrics = metrics
        self.clock = clock
        self.timer = timer  # sets the held slots' renewals
        self._last_error_log = -math.inf
        self._unlogged_errors = 0
        self._releasing: set[asyncio.Future[None]] = set()  # releases retried after a store fault
        self._held: set[QuotaTicket] = set()  # tickets holding a stream slot, each renewed by a timer
        self._renewing: set[asyncio.Future[None]] = set()  # renewals in flight

    async def admit(self, identity: str | None, claims: Mapping[str, Any]) -> QuotaTicket:
        """Check the identity's limits and take one request (and a stream slot); raises when over."""
        limits = limits_for(self.config, claims)
        base = identity_key(self.prefix, identity or ANONYMOUS)
        now = self.clock()
        windows = windows_for(base, limits, now)
        lease = lease_for(base, limits, uuid.uuid4().hex, now, self.config.stream_lease)
        if not windows and lease is None:
            return QuotaTicket(base, limits, None, ())
        try:
            admission = await self._timed("admit", self.store.admit([w.window for w in windows], lease, now))
        except StoreUnavailable as exc:
            self._store_failed("admit", exc)
            if self.config.on_store_error == "deny":
                self._refused("store_unavailable")
                raise InboundError(503, "quota_store_unavailable", "the quota store is unavailable, so the "
                                   "request cannot be checked: try again shortly", retry_after=1) from None
            return QuotaTicket(base, limits, None, ())
        if not admission.admitted:
            raise self._refusal(limits, windows, admission, now)
        states = [(w.name, remaining(w.window, c, admitted=True), None)
                  for w, c in zip(windows, admission.counts, strict=True)]
        if lease is not None and admission.held is not None:
            states.append((STREAMS, max(0, lease.limit - admission.held - 1), None))
        ticket = QuotaTicket(base, limits, lease, rate_limit_headers(limits, states))
        if lease is not None:
            self._held.add(ticket)
            self._renew_later(ticket)
        return ticket

    @property
    def renewing(self) -> int:
        """Stream slots held now (each renewed by a timer of its own)."""
        return len(self._held)

    def _renew_later(self, ticket: QuotaTicket) -> None:
        def due() -> None:
            ticket.renewal = self._track(self._renewing, self._renew(ticket))
        ticket.renewal = self.timer(self.config.stream_lease / RENEWALS_PER_LEASE, due)

    async def _renew(self, ticket: QuotaTicket) -> None:
        """Renew the ticket's lease, then set the next renewal; :meth:`finish` cancels either.

        A store fault is counted and logged (as every store fault) and the renewal tried again at
        the next tick; once the store says the lease is no longer held (it expired while the store
        was away), the renewals stop: the run goes on, its slot is not taken again."""
        assert ticket.lease is not None
        now = self.clock()
        renewed = replace(ticket.lease, expires=now + self.config.stream_lease)
        try:
            held = await self._timed("renew", self.store.renew(renewed, now))
        except StoreUnavailable as exc:
            self._store_failed("renew", exc)
            self._renew_later(ticket)  # tried again at the next tick
            return
        if held:
            ticket.lease = renewed
            self._renew_later(ticket)
            return
        ticket.renewal = None
        self._held.discard(ticket)
        log.warning("a stream's concurrent_streams slot expired while its run went on (the quota store did "
                    "not answer for quotas.stream_lease): the run is no longer counted")

    def _track(self, tasks: set[asyncio.Future[None]], work: Awaitable[None]) -> asyncio.Future[None]:
        task = asyncio.ensure_future(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    def _refusal(self, limits: QuotaLimits, windows: list[NamedWindow], admission: Admission,
                 now: float) -> QuotaExceeded:
        assert admission.refused is not None
        states: list[tuple[str, int, int | None]] = []
        for i, (w, counts) in enumerate(zip(windows, admission.counts, strict=True)):
            reset = math.ceil(seconds_until_room(w.window, counts)) if i == admission.refused else None
            states.append((w.name, remaining(w.window, counts, admitted=False), reset))
        if admission.refused < len(windows):
            name, _, reset = states[admission.refused]
            assert reset is not None
            retry_after = max(1, reset)
            at = datetime.fromtimestamp(now + retry_after, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            message = f"over the quota of {describe(name, getattr(limits, name))}: it resets in " \
                      f"{wait_text(retry_after)} (at {at})"
        else:
            name, retry_after = STREAMS, 1
            states.append((STREAMS, 0, None))
            message = f"over the quota of {describe(name, limits.concurrent_streams or 0)}: one of them " \
                      "must end first"
        self._refused(name)
        return QuotaExceeded(message, retry_after=retry_after, headers=rate_limit_headers(limits, states))

    async def finish(self, ticket: QuotaTicket, *, tokens: int | None, estimate_bytes: int) -> None:
        """Charge the run's tokens (its usage, else ``estimate_bytes / bytes_per_token``) and give back
        its stream slot, in one store call.  Never raises: a store failure here is logged and counted,
        and the slot's release is tried again (:meth:`_release_later`) until the store answers or
        the slot expires on its own (``quotas.stream_lease``): a blip must not lock a user out."""
        self._stop_renewing(ticket)
        if ticket.finished:
            return
        ticket.finished = True
        source = "usage" if tokens is not None else "estimate"
        amount = tokens if tokens is not None else math.ceil(estimate_bytes / self.config.bytes_per_token)
        now = self.clock()
        charges = []
        if amount > 0:
            for name in TOKEN_LIMITS:
                if getattr(ticket.limits, name) is not None:
                    current = window(ticket.base, name, 0, now, take=0).window.current_key
                    charges.append(Charge(current, WINDOWED[name][0], amount))
        if not charges and ticket.lease is None:
            return
        try:
            await self._timed("settle", self.store.settle(charges, ticket.lease, now))
        except StoreUnavailable as exc:
            self._store_failed("settle", exc)
            if ticket.lease is not None:
                self._track(self._releasing, self._release_later(ticket.lease))
            return
        if charges and self.metrics is not None:
            self.metrics.tokens_charged.labels(source).inc(amount)

    async def _release_later(self, lease: Lease) -> None:
        """Give back ``lease`` once the store answers again: tries after 0.5, 1, 2 ... 30 s, for as
        long as the lease would be held.  A release is idempotent; the run's charges are not
        retried (one that did land before the answer was lost must not be taken twice)."""
        delay = RELEASE_RETRY_FIRST
        while self.clock() + delay < lease.expires:
            await asyncio.sleep(delay)
            try:
                await self._timed("release", self.store.settle([], lease, self.clock()))
                return
            except StoreUnavailable as exc:
                self._store_failed("release", exc)
            delay = min(delay * 2, RELEASE_RETRY_MAX)

    async def aclose(self) -> None:
        """Stop the renewals and the releases still being retried (the process is stopping: its
        leases expire within ``stream_lease``)."""
        for ticket in list(self._held):
            self._stop_renewing(ticket)
        tasks = [*self._renewing, *self._releasing]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _stop_renewing(self, ticket: QuotaTicket) -> None:
        if ticket.renewal is not None:
            ticket.renewal.cancel()
            ticket.renewal = None
        self._held.discard(ticket)

    # -- bookkeeping ---------------------------------------------------------------------------

    async def _timed(self, operation: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await call
        finally:
            if self.metrics is not None:
                self.metrics.store_seconds.labels(operation).observe(time.perf_counter() - started)

    def _refused(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.refusals.labels(reason).inc()

    def _store_failed(self, operation: str, exc: StoreUnavailable) -> None:
        if self.metrics is not None:
            self.metrics.store_errors.labels(operation).inc()
        self._unlogged_errors += 1
        now = time.monotonic()
        if now - self._last_error_log < self.config.error_log_interval:
            return
        log.error("quota store error (%s; %d call(s) failed since the last line; quotas.on_store_error: %s): %s",
                  operation, self._unlogged_errors, self.config.on_store_error, exc)
        self._last_error_log = now
        self._unlogged_errors = 0
