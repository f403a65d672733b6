"""The identity of a request's sender: what the auth piece (``auth.py``) finds, kept in the
request context (``context.py``), read by whatever is per user (quotas, logs, traces)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request comes from: ``id`` is stable and safe to log (never a credential), ``claims``
    what the authenticator knows of them (a JWT's claims; empty for a configured token)."""

    id: str
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
