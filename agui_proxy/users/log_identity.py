"""How the access log shows who sent a request (``logging.identity``, ``logging.identity_claims``).

``plain`` logs the identity as it is; ``hash`` logs a keyed hash of it (HMAC-SHA-256 under
``logging.identity_hash_key``, 16 hex digits): the same user gives the same value in every
replica, so one user's requests can still be followed, but the log alone does not say who they
are, and without the key no one can test a guess (an unkeyed hash of an email address is
reversed by hashing candidate addresses).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from ..config import LoggingConfig

_SAFE = str.maketrans({c: "_" for c in " \t\r\n\"'=\\"})
MAX_CLAIM_CHARS = 128


class IdentityLog:
    def __init__(self, config: LoggingConfig) -> None:
        self.claims = list(config.identity_claims)
        hashed = config.identity == "hash" and config.identity_hash_key
        self._key = config.identity_hash_key.encode() if hashed and config.identity_hash_key else None

    def user(self, identity: str) -> str:
        """The ``user=`` value: the identity, or its keyed hash."""
        if self._key is None:
            return _clean(identity)
        return hmac.new(self._key, identity.encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    def fields(self, identity: str | None, claims: Mapping[str, Any]) -> dict[str, str]:
        """The access line's fields: ``user`` and ``claim.<name>`` for each configured claim present."""
        if identity is None:
            return {}
        out = {"user": self.user(identity)}
        for name in self.claims:
            value = claims.get(name)
            if isinstance(value, (str, int, float, bool)):
                out[f"claim.{name}"] = _clean(str(value))
        return out


def _clean(text: str) -> str:
    """One log token: no spaces, quotes or line breaks (the plain format splits on them), bounded."""
    return text[:MAX_CLAIM_CHARS].translate(_SAFE)
