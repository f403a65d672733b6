"""Per-identity quotas: requests and tokens per window, concurrent streams, plans picked by a claim."""

from .gate import QuotaGate, QuotaTicket
from .metrics import QuotaMetrics

__all__ = ["QuotaGate", "QuotaMetrics", "QuotaTicket"]
