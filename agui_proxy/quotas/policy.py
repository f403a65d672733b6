"""What a quota check asks the store, and what its answer means: no I/O here.

For one identity and one moment, :func:`windows_for` gives the store's sliding-window counters
(``store/quota_store.py`` says why sliding) and :func:`lease_for` the concurrent-streams slot;
:func:`seconds_until_room` tells a refused client when to come back; :func:`rate_limit_headers`
writes the ``RateLimit-Policy`` and ``RateLimit`` fields of draft-ietf-httpapi-ratelimit-headers
(-10, section 2 and 3: ``"name";q=<quota>;w=<window>`` and ``"name";r=<remaining>;t=<seconds>``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import QuotaLimits, QuotasConfig
from ..store import Counts, Lease, Window

MINUTE = 60
DAY = 86_400
# The windowed limits: config name -> (window seconds, counts requests rather than tokens).
WINDOWED: dict[str, tuple[int, bool]] = {
    "requests_per_minute": (MINUTE, True),
    "tokens_per_minute": (MINUTE, False),
    "tokens_per_day": (DAY, False),
}
TOKEN_LIMITS = ("tokens_per_minute", "tokens_per_day")
STREAMS = "concurrent_streams"


def limits_for(config: QuotasConfig, claims: Mapping[str, Any]) -> QuotaLimits:
    """``per_identity``, with the limits of the plan the identity's claim names over it."""
    plans = config.plans
    if plans is not None:
        plan = claims.get(plans.claim)
        if isinstance(plan, str) and plan in plans.limits:
            return config.per_identity.over(plans.limits[plan])
    return config.per_identity


def identity_key(prefix: str, identity: str) -> str:
    """The keys' common part for one identity: a hash (bounded, and no user id in Redis), in a
    ``{...}`` hash tag so a Redis Cluster keeps all of one identity's keys in one slot."""
    digest = hashlib.blake2b(identity.encode("utf-8"), digest_size=16).hexdigest()
    return f"{prefix}q:{{{digest}}}"


@dataclass(frozen=True, slots=True)
class NamedWindow:
    name: str
    window: Window


def window(base: str, name: str, limit: int, now: float, *, take: int) -> NamedWindow:
    seconds = WINDOWED[name][0]
    slot = int(now // seconds)
    fraction = (now - slot * seconds) / seconds
    return NamedWindow(name, Window(f"{base}:{name}:{slot}", f"{base}:{name}:{slot - 1}", seconds,
                                    fraction, limit, need=1, take=take))


def windows_for(base: str, limits: QuotaLimits, now: float) -> list[NamedWindow]:
    """The windowed limits to check for one request: a request counts 1; tokens need room for 1."""
    out = []
    for name, (_, counts_requests) in WINDOWED.items():
        limit = getattr(limits, name)
        if limit is not None:
            out.append(window(base, name, limit, now, take=1 if counts_requests else 0))
    return out


def lease_for(base: str, limits: QuotaLimits, lease_id: str, now: float, lease_seconds: float) -> Lease | None:
    if limits.concurrent_streams is None:
        return None
    return Lease(f"{base}:{STREAMS}", lease_id, limits.concurrent_streams, now + lease_seconds)


def seconds_until_room(window: Window, counts: Counts) -> float:
    """How long until ``window`` would admit the request again, if nothing else is spent meanwhile.

    The estimate ``previous * (1 - fraction) + current`` falls as the previous slot slides out;
    when the current slot alone is too full, its own count must slide out in the next slot.
    """
    room = window.limit - window.need  # the most ``used`` may be for the request to pass
    if room < 0:
        return float(window.seconds)  # a limit of 0: never; come back after a whole window
    seconds, fraction = window.seconds, window.fraction
    previous, current = counts.previous, counts.current
    if current <= room:
        if previous <= 0:
            return 0.0
        target = 1.0 - (room - current) / previous  # the fraction at which used == room
        return max(0.0, (target - fraction) * seconds)
    to_next_slot = (1.0 - fraction) * seconds
    return to_next_slot + (1.0 - room / current) * seconds


def remaining(window: Window, counts: Counts, *, admitted: bool) -> int:
    used = window.used(counts.previous, counts.current) + (window.take if admitted else 0)
    return max(0, math.floor(window.limit - used))


def describe(name: str, limit: int) -> str:
    return {
        "requests_per_minute": f"{limit} requests per minute",
        "tokens_per_minute": f"{limit} tokens per minute",
        "tokens_per_day": f"{limit} tokens per day",
        STREAMS: f"{limit} streams at once",
    }[name]


def wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{seconds // 3600} h {math.ceil(seconds % 3600 / 60)} min"


Headers = tuple[tuple[bytes, bytes], ...]


def rate_limit_headers(limits: QuotaLimits, states: Sequence[tuple[str, int, int | None]]) -> Headers:
    """``RateLimit-Policy`` (every limit of the identity's plan) and ``RateLimit`` (each one's remaining
    quota ``r`` and, where known, ``t``: seconds until more is available).

    ``states``: (limit name, remaining, seconds or None).  Tokens are not one of the draft's
    registered quota units (``qu``: requests, content-bytes, concurrent-requests), so a token
    policy says so in a vendor parameter, ``agui-unit="tokens"`` (section 2.1 allows "other
    parameters ... regarded as comments").
    """
    policies = []
    for name, (seconds, counts_requests) in WINDOWED.items():
        limit = getattr(limits, name)
        if limit is not None:
            unit = "" if counts_requests else ';agui-unit="tokens"'
            policies.append(f'"{name}";q={limit};w={seconds}{unit}')
    if limits.concurrent_streams is not None:
        policies.append(f'"{STREAMS}";q={limits.concurrent_streams};qu="concurrent-requests"')
    items = [f'"{name}";r={left}' + (f";t={reset}" if reset is not None else "") for name, left, reset in states]
    headers = [(b"ratelimit-policy", ", ".join(policies).encode())]
    if items:
        headers.append((b"ratelimit", ", ".join(items).encode()))
    return tuple(headers)
