"""The methods an endpoint takes: anything else is a 405 naming them, with ``Allow``."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InboundError
from .json_answers import send_error

GET = ("GET", "HEAD")
POST = ("POST",)


class AllowMethods:
    """``path`` names the endpoint in the 405's message (default: the request's path)."""

    def __init__(self, app: ASGIApp, methods: tuple[str, ...], *, path: str | None = None) -> None:
        self.app = app
        self.methods = methods
        self.path = path
        self._allow = (b"allow", ", ".join(methods).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in self.methods:
            await self.app(scope, receive, send)
            return
        # GET endpoints answer HEAD too, but are named for their GET.
        error = InboundError(405, "method_not_allowed", f"{self.path or scope['path']} takes {self.methods[0]}")
        await send_error(send, error, [self._allow])
