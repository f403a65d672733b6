"""The lean upstream transport: HTTP/1.1 on asyncio Protocols with httptools, behind httpx's API.

    client = httpx.AsyncClient(transport=LeanTransport())

See :mod:`agui_proxy.upstream.transport.transport` for what it does and does not do.
"""

from .connection import MAX_RESPONSE_HEAD, ResponseHeadTooLarge, head_too_large
from .transport import LeanTransport, ResponseBody, body_of, ssl_context

__all__ = ["MAX_RESPONSE_HEAD", "LeanTransport", "ResponseBody", "ResponseHeadTooLarge", "body_of", "head_too_large",
           "ssl_context"]
