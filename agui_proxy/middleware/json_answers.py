"""The one JSON writer of the shell: every JSON answer and every JSON error leaves through here.

An error body is ``{"error": {"type", "message"}}`` (PROTOCOL.md section 3), its status and type
those of the :class:`~agui_proxy.errors.InboundError`; its ``Retry-After`` goes along when the error
has one (503 at the stream cap or while shutting down).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import Send

from ..errors import InboundError

Headers = Sequence[tuple[bytes, bytes]]


async def send_json(send: Send, status: int, payload: object, headers: Headers = (), *, head: bool = False) -> None:
    """A whole JSON response (``head``: the headers only, for ``HEAD``)."""
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_error(send: Send, error: InboundError, headers: Headers = ()) -> None:
    """``error`` as its status and JSON error body, with the headers it carries (a 401's challenge,
    a 429's RateLimit fields)."""
    extra = [*error.headers, *headers]
    if error.retry_after is not None:
        extra.append((b"retry-after", str(error.retry_after).encode()))
    if error.status == 408:  # the rest of a body that came too slowly may still arrive: not reusable
        extra.append((b"connection", b"close"))
    await send_json(send, error.status, {"error": {"type": error.type, "message": error.message}}, extra)
