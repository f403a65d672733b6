"""agui-proxy: put an LLM provider behind an AG-UI frontend.

The public API: :func:`create_app` (the standalone ASGI app), :class:`AGUIProxyMiddleware` (the
same routes in front of an existing ASGI app, with an optional ``authenticate`` callable returning
an :class:`Identity`, or raising :class:`AuthError`) and :func:`load_config`.
"""

from .config import Config, load_config
from .errors import AGUIProxyError, AuthError, ConfigError, InboundError, QuotaExceeded, RunError
from .server.app import AGUIProxyMiddleware, create_app
from .server.identity import Identity

__version__ = "0.1.0"

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
    "create_app",
    "load_config",
]
