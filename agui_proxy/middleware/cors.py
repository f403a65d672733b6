"""CORS (the Fetch standard's "CORS protocol") for browser frontends on another origin.

Nothing is allowed unless ``cors.allow_origins`` lists it.  A preflight (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``) is answered here: 204 with the grant, or 403
with a JSON error that names what is not allowed (an unlisted origin, a method the endpoint does
not take, a header not in ``cors.allow_headers``), so a developer sees the reason with curl rather
than a bare browser console error.  An actual request from an allowed origin gets the
``Access-Control-Allow-Origin`` grant on its response, stream and error alike; one from another
origin gets no grant (the browser then hides the response from the page).

CORS is not access control: any non-browser client ignores it.  The bearer tokens are.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import CORSConfig
from ..errors import InboundError
from .context import request_context
from .json_answers import send_error

# Request headers browsers may send without asking (Fetch, "CORS-safelisted request-header").
_SAFELISTED = frozenset({"accept", "accept-language", "content-language", "content-type"})
_MAX_ECHO = 200  # how much of a client's Origin an error message quotes

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Preflight:
    """The answer to a preflight: ``error`` is ``None`` when it is granted."""

    headers: Headers
    error: str | None = None

    @property
    def status(self) -> int:
        return 204 if self.error is None else 403


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def is_preflight(scope: Scope) -> bool:
    return (scope["method"] == "OPTIONS" and _header(scope, b"origin") is not None
            and _header(scope, b"access-control-request-method") is not None)


class CORSPolicy:
    def __init__(self, config: CORSConfig) -> None:
        self._origins = frozenset(config.allow_origins)
        self._any_origin = "*" in self._origins
        self._headers = frozenset(config.allow_headers)
        self._any_header = "*" in self._headers
        self._credentials = config.allow_credentials
        self._max_age = str(config.max_age).encode()
        self._expose = ", ".join(config.expose_headers).encode()

    def _allows(self, origin: bytes) -> bool:
        return self._any_origin or origin.decode("latin-1").lower() in self._origins

    def _grant(self, origin: bytes) -> Headers:
        # "*" only without credentials: with them the browser requires the origin itself.
        if self._any_origin and not self._credentials:
            headers = [(b"access-control-allow-origin", b"*")]
        else:
            headers = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        if self._credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

    def response_headers(self, scope: Scope) -> Headers:
        """The grant to add to an actual response (empty when there is nothing to grant)."""
        origin = _header(scope, b"origin")
        if origin is None or not self._allows(origin):
            return []
        headers = self._grant(origin)
        if self._expose:
            headers.append((b"access-control-expose-headers", self._expose))
        return headers

    def preflight(self, scope: Scope, methods: tuple[str, ...]) -> Preflight:
        """Answer the preflight ``scope`` for an endpoint that takes ``methods``."""
        origin = _header(scope, b"origin") or b""
        method = (_header(scope, b"access-control-request-method") or b"").decode("latin-1")
        requested = [name.strip().lower() for name in
                     (_header(scope, b"access-control-request-headers") or b"").decode("latin-1").split(",")
                     if name.strip()]
        vary = [(b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers")]
        if not self._origins:
            return Preflight(vary, "cross-origin requests are not allowed: cors.allow_origins is empty")
        if not self._allows(origin):
            shown = origin.decode("latin-1")[:_MAX_ECHO]
            return Preflight(vary, f"origin {shown!r} is not in cors.allow_origins")
        if method not in methods:
            return Preflight(vary, f"this endpoint takes {', '.join(methods)}, not {method[:_MAX_ECHO]!r}")
        if not self._any_header:
            refused = [name for name in requested if name not in self._headers and name not in _SAFELISTED]
            if refused:
                names = ", ".join(refused)[:_MAX_ECHO]
                return Preflight(vary, f"request header(s) {names} not in cors.allow_headers")
        headers = [h for h in self._grant(origin) if h[0] != b"vary"] + vary
        headers.append((b"access-control-allow-methods", ", ".join(methods).encode()))
        if requested:
            # Echo what was asked (all of it is allowed by now): a literal "*" would not cover
            # Authorization, which browsers never let a wildcard grant.
            headers.append((b"access-control-allow-headers", ", ".join(requested).encode("latin-1")))
        headers.append((b"access-control-max-age", self._max_age))
        return Preflight(headers)


class CORSMiddleware:
    """Answers the preflights of an endpoint that takes ``methods``; adds the grant to its responses."""

    def __init__(self, app: ASGIApp, policy: CORSPolicy, methods: tuple[str, ...]) -> None:
        self.app = app
        self.policy = policy
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_preflight(scope):
            await self._preflight(scope, send)
            return
        grant = self.policy.response_headers(scope)
        if not grant:
            await self.app(scope, receive, send)
            return

        async def send_granted(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *grant]}
            await send(message)

        await self.app(scope, receive, send_granted)

    async def _preflight(self, scope: Scope, send: Send) -> None:
        context = request_context(scope)
        context.preflight = True
        answer = self.policy.preflight(scope, self.methods)
        if answer.error is None:
            await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
            await send({"type": "http.response.body", "body": b""})
        else:
            context.error = "cors_refused"
            await send_error(send, InboundError(answer.status, "cors_refused", answer.error), answer.headers)
