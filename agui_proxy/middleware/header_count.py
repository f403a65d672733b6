"""``limits.max_headers``: a request with more header fields than that gets a 431.

The count is checked by the app once the head is parsed (so it holds in the middleware mode too);
the head's size (``limits.max_header_bytes``) is checked while it arrives, in
``serving/header_limits.py``.
"""

from __future__ import annotations

from ..errors import InboundError


def too_many_headers(headers: list[tuple[bytes, bytes]], limit: int) -> InboundError | None:
    """The 431 for a request with more than ``limit`` header fields, else ``None``."""
    if len(headers) <= limit:
        return None
    return InboundError(431, "headers_too_large",
                        f"the request has {len(headers)} header fields, more than {limit} (limits.max_headers)")
