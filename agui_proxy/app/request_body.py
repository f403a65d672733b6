"""Reading a request body whole, never past its limit (``limits.max_body_bytes``) nor its time
(``limits.body_timeout``: a body trickled a byte at a time gets 408), and only one that says it is
JSON (:func:`check_json_body`)."""

from __future__ import annotations

import anyio
from starlette.types import Receive, Scope

from ..errors import InboundError


def check_json_body(scope: Scope) -> None:
    """415 unless the request's ``Content-Type`` is JSON: ``application/json`` or an
    ``application/<name>+json`` type (RFC 6839), any parameters.

    A run costs tokens: a page of another origin must not be able to start one with a form or
    ``text/plain`` body, which browsers send without a CORS preflight (Fetch standard, "CORS-safelisted
    request-header"); a JSON body needs one.  The official AG-UI client sends ``application/json``."""
    content_type = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
            break
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    said = f"Content-Type {content_type[:60]!r}" if content_type else "no Content-Type"
    raise InboundError(415, "unsupported_media_type", f"the request body must be JSON, sent with Content-Type "
                       f"application/json; the request has {said}")


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
