"""The config's secrets, gathered once into the one :class:`~agui_proxy.core.redact.Redactor`.

The inbound bearer tokens and every upstream's key and secret-looking headers (whatever its
provider calls secret).  The app builds it once and passes it to everything that writes text a
person may read: each run's ``RUN_ERROR`` message, the retry and fallback logs, the access log
and the log filter of a served process.
"""

from __future__ import annotations

from ..config import Config
from ..core.redact import Redactor
from .routing import provider_for


def config_redactor(config: Config) -> Redactor:
    secrets = list(config.auth.tokens)
    for upstream in config.upstreams.values():
        secrets += provider_for(upstream).secrets()
    return Redactor(secrets)
