"""agui-proxy: put an LLM provider behind an AG-UI frontend.

The public API: :func:`create_app` (the standalone ASGI app), :class:`AGUIProxyMiddleware` (the
same routes in front of an existing ASGI app, with an optional ``authenticate`` callable returning
an :class:`Identity`, or raising :class:`AuthError`) and :func:`load_config`.
"""

from .app.proxy import AGUIProxyMiddleware, create_app
from .config import Config, load_config
from .errors import AGUIProxyError, AuthError, ConfigError, InboundError, QuotaExceeded, RunError
from .middleware.identity import Identity
from .version import __version__

__all__ = [
    "AGUIProxyError",
    "AGUIProxyMiddleware",
    "AuthError",
    "Config",
    "ConfigError",
    "Identity",
    "InboundError",
    "QuotaExceeded",
    "RunError",
    "__version__",
    "create_app",
    "load_config",
]
