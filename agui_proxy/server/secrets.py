"""The config's secrets, gathered once into the one :class:`~agui_proxy.core.redact.Redactor`.

The inbound bearer tokens, the JWT secret, the log's identity-hash key, the store URL's password,
and every upstream's key and secret-looking headers (whatever its provider calls secret).  The
app builds it once and passes it to everything that writes text a
person may read: each run's ``RUN_ERROR`` message, the retry and fallback logs, the access log
and the log filter of a served process.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import Config
from ..core.redact import Redactor
from .routing import provider_for


def config_redactor(config: Config) -> Redactor:
    secrets = list(config.auth.tokens)
    if config.auth.jwt is not None and config.auth.jwt.secret is not None:
        secrets.append(config.auth.jwt.secret)
    if config.logging.identity_hash_key:
        secrets.append(config.logging.identity_hash_key)
    if config.store.url is not None and (password := urlsplit(config.store.url).password):
        secrets.append(password)
    for upstream in config.upstreams.values():
        secrets += provider_for(upstream).secrets()
    return Redactor(secrets)
