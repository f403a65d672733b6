"""The lean upstream transport: HTTP/1.1 on asyncio Protocols with httptools, behind httpx's API.

    client = httpx.AsyncClient(transport=LeanTransport())

See :mod:`agui_proxy.upstream.transport.transport` for what it does and does not do.
"""

from .transport import LeanTransport, ResponseBody, body_of, ssl_context

__all__ = ["LeanTransport", "ResponseBody", "body_of", "ssl_context"]
