"""The shared upstream client: one ``httpx.AsyncClient``, on the transport the config names.

``upstream_transport: lean`` (the default) puts the proxy's own HTTP/1.1 transport under it
(:mod:`agui_proxy.upstream.transport`); ``httpx`` keeps httpx's stock one.  Neither keeps the cookies an
upstream sets (:class:`UpstreamClient`).  Either way the rest of the shell sees httpx's API and
exceptions (docs/architecture.md, the upstream room).  Both keep up to 100 idle connections and
open as many as the streams need (the stream gate caps those), and check certificates the same
way (``upstream_tls``).
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


class _NoCookies(httpx.Cookies):
    """A cookie jar that stays empty: ``Set-Cookie`` from an upstream is not kept."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class UpstreamClient(httpx.AsyncClient):
    """httpx's client, without its cookie jar.  The client is shared by every user's requests, so a
    cookie one upstream answer set (a CDN's bot-management cookie, say) would go back with every
    other user's requests to that host; the APIs the proxy speaks use keys, not cookies.  It also
    spares the jar's work on every answer (about 6% of the CPU of a short request in a profile:
    httpx builds a urllib request and response for the standard library's cookie jar)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise ValueError("the upstream client keeps no cookies")


_NO_COOKIES = _NoCookies()


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
        return UpstreamClient(transport=LeanTransport(verify=verify, max_idle_per_origin=MAX_IDLE),
                              timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False,
                              headers=UNCOMPRESSED)
    return UpstreamClient(timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False, verify=verify,
                          headers=UNCOMPRESSED,
                          limits=httpx.Limits(max_connections=None, max_keepalive_connections=MAX_IDLE))
