"""agui-proxy: put an LLM provider behind an AG-UI frontend.

The public API: :func:`create_app` (the standalone ASGI app), :class:`AGUIProxyMiddleware` (the
same routes in front of an existing ASGI app, with an optional ``authenticate`` callable returning
an :class:`Identity`, or raising :class:`AuthError`) and :func:`load_config`.  Both take
``enrichers``: callables that see each AG-UI event of a run and may add events or metadata
(:class:`EnrichContext`, :func:`with_metadata`; docs/provider-tools-and-citations.md).
"""

from .app.proxy import AGUIProxyMiddleware, create_app
from .config import Config, load_config
from .core.enrichers import EnrichContext, Enricher, with_metadata
from .errors import AGUIProxyError, AuthError, ConfigError, InboundError, QuotaExceeded, RunError
from .middleware.identity import Identity
from .version import __version__

__all__ = [
    "AGUIProxyError",
    "AGUIProxyMiddleware",
    "AuthError",
    "Config",
    "ConfigError",
    "EnrichContext",
    "Enricher",
    "Identity",
    "InboundError",
    "QuotaExceeded",
    "RunError",
    "__version__",
    "create_app",
    "load_config",
    "with_metadata",
]
