"""Metrics and the access log: each request counted and logged once, when it ends.

:class:`RequestAccounting` sits inside the request context (``context.py``) of the chains that are
recorded (the routes, and the 404 of the standalone app; not the probes nor ``/metrics``, which
an orchestrator and a scraper call every few seconds).  It counts the stream as active from its
200 to its end, notes a request the server cancelled or a bug ended, and when the request ends
records its metrics and writes its access line.  With ``logging.debug_content`` it also keeps
up to :data:`~.access_log.DEBUG_CONTENT_CAP` bytes of the request and response bodies for that
line.  Nothing here runs per chunk unless ``debug_content`` asks for it.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access_log import DEBUG_CONTENT_CAP, AccessLog
from .context import INTERNAL, RequestContext, request_context
from .metrics import Metrics


class RequestAccounting:
    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: AccessLog) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = request_context(scope)
        metrics = self.metrics
        capture = self.access_log.debug_content
        streaming = False

        async def send_recorded(message: Message) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                if context.run is not None:  # the run's stream begins
                    streaming = True
                    metrics.stream_opened()
            elif capture and message["type"] == "http.response.body":
                _keep(context, "response_body", message.get("body", b""))
            await send(message)

        async def receive_recorded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                _keep(context, "request_body", message.get("body", b""))
            return message

        try:
            await self.app(scope, receive_recorded if capture else receive, send_recorded)
        except anyio.get_cancelled_exc_class():
            context.error = context.error or "cancelled"  # the server is stopping this request
            raise
        except Exception:
            context.error = INTERNAL  # a bug: uvicorn answers 500 (or drops the connection) and logs it
            raise
        finally:
            context.end()
            if streaming:
                metrics.stream_closed()
            metrics.observe(context)
            self.access_log.write(context)


def _keep(context: RequestContext, name: str, data: bytes) -> None:
    """Keep up to :data:`DEBUG_CONTENT_CAP` bytes of a body for the debug access line."""
    kept: bytearray | None = getattr(context, name)
    if kept is None:
        kept = bytearray()
        setattr(context, name, kept)
    room = DEBUG_CONTENT_CAP - len(kept)
    if room > 0 and data:
        kept += data[:room]
