"""The shared upstream client: one ``httpx.AsyncClient``, on the transport the config names.

``upstream_transport: lean`` (the default) puts the proxy's own HTTP/1.1 transport under it
(:mod:`agui_proxy.upstream.transport`); ``httpx`` keeps httpx's stock one.  Either way the rest of the
shell sees httpx's API and exceptions (ARCHITECTURE.md, "One upstream boundary").  Both keep up
to 100 idle connections and open as many as the streams need (the stream gate caps those), and
check certificates the same way (``upstream_tls``).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from ..config import Config, UpstreamTLSConfig
from .transport import LeanTransport

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=10.0)
MAX_IDLE = 100
# LLM providers stream uncompressed; asking for gzip only invites a compression bomb (issue 15).
UNCOMPRESSED = {"accept-encoding": "identity"}


def tls_verify(tls: UpstreamTLSConfig, ca_file: Path | None) -> ssl.SSLContext | bool:
    """What both transports take as ``verify``: a context for a private CA bundle, else a bool
    (``True``: certifi's CAs, as httpx does)."""
    if not tls.verify:
        return False
    if ca_file is not None:
        return ssl.create_default_context(cafile=str(ca_file))
    return True


def new_client(config: Config | None = None) -> httpx.AsyncClient:
    """Pooled connections, no redirects, no environment proxies or netrc, and uncompressed answers
    asked for (``inflate.py`` bounds what comes compressed anyway); ``None``: the defaults."""
    verify = tls_verify(config.upstream_tls, config.tls_ca_file()) if config is not None else True
    if config is None or config.upstream_transport == "lean":
        return httpx.AsyncClient(transport=LeanTransport(verify=verify, max_idle_per_origin=MAX_IDLE),
                                 timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False,
                                 headers=UNCOMPRESSED)
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False, verify=verify,
                             headers=UNCOMPRESSED,
                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=MAX_IDLE))
