"""agui-proxy: put an LLM provider behind an AG-UI frontend.

The public API: :func:`create_app` (the standalone ASGI app), :class:`AGUIProxyMiddleware` (the
same routes in front of an existing ASGI app) and :func:`load_config`.
"""

from .config import Config, load_config
from .errors import AGUIProxyError, ConfigError, InboundError, RunError
from .server.app import AGUIProxyMiddleware, create_app
from .version import __version__

__all__ = [
    "AGUIProxyError",
    "AGUIProxyMiddleware",
    "Config",
    "ConfigError",
    "InboundError",
    "RunError",
    "__version__",
    "create_app",
    "load_config",
]
