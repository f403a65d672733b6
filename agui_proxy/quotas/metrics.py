"""The quotas' Prometheus metrics.  Never labelled by identity: their number is unbounded."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Seconds: a local Redis answers in well under a millisecond, a remote one in a few.
STORE_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class QuotaMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.refusals = Counter(
            "agui_proxy_quota_refusals", "Requests refused by a quota, by reason (the limit's name, or "
            "store_unavailable when quotas.on_store_error is deny).", ["reason"], registry=registry)
        self.store_errors = Counter(
            "agui_proxy_store_errors", "Calls to the shared-state store that failed or timed out, by "
            "operation (admit: before a request; settle: after it; release: a settle retried; renew: a "
            "held stream slot kept while its run goes on).", ["operation"], registry=registry)
        self.store_seconds = Histogram(
            "agui_proxy_store_seconds", "Round-trip time of a call to the shared-state store, by operation.",
            ["operation"], buckets=STORE_BUCKETS, registry=registry)
        self.tokens_charged = Counter(
            "agui_proxy_quota_tokens_charged", "Tokens charged to quotas, by source (usage: the run's "
            "reported usage; estimate: from the bytes of a run that ended without it).", ["source"],
            registry=registry)
