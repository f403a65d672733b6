"""Reading a request body whole, never past its limit (``limits.max_body_bytes``) nor its time
(``limits.body_timeout``: a body trickled a byte at a time gets 408)."""

from __future__ import annotations

import anyio
from starlette.types import Receive, Scope

from ..errors import InboundError


async def read_body_within(scope: Scope, receive: Receive, limit: int, seconds: float) -> bytes:
    """:func:`read_body`, or a 408 once ``seconds`` passed without all of it."""
    with anyio.move_on_after(seconds):
        return await read_body(scope, receive, limit)
    raise InboundError(408, "body_timeout", f"the request body did not arrive within {seconds:g} s "
                       "(limits.body_timeout)")


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing (413) as soon as it passes ``limit``, never buffering past it."""
    too_large = InboundError(413, "body_too_large", f"the request body is larger than {limit} bytes")
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                if int(value) > limit:
                    raise too_large
            except ValueError:
                raise InboundError(400, "invalid_request", "the Content-Length header is not a number") from None
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InboundError(400, "client_disconnected", "the client left before sending the whole body")
        body += message.get("body", b"")
        if len(body) > limit:
            raise too_large
        if not message.get("more_body", False):
            return bytes(body)
