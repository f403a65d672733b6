"""The config's secrets, gathered once into the one :class:`~agui_proxy.core.redact.Redactor`.

The inbound bearer tokens, the JWT secret, the log's identity-hash key, the store URL's password,
every upstream's key and secret-looking headers (whatever its provider calls secret), and the
headers sent to the trace collector.  The app builds it once and passes it to everything that
writes text a person may read: each run's ``RUN_ERROR`` message, the retry and fallback logs, the
access log, the spans and the log filter of a served process.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import Config
from ..core.redact import Redactor
from ..upstream.chain import provider_for


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
    secrets += config.tracing.secrets()  # the collector's headers
    return Redactor(secrets)
