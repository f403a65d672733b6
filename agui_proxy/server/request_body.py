"""Reading a request body whole, never past its limit (``limits.max_body_bytes``)."""

from __future__ import annotations

from starlette.types import Receive, Scope

from ..errors import InboundError


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
