"""The quotas' ASGI piece: inside auth, before the route handler (``app/stack.py``).

It asks :class:`~agui_proxy.quotas.QuotaGate` before anything of the request is read or sent
upstream (a refusal is its 429, or the 503 of ``quotas.on_store_error: deny``), adds the
``RateLimit`` fields to the answer, and when the request ends charges what it cost: the run's
reported usage (``RUN_FINISHED.usage``, input plus output), or, for a run that did not finish
(the client left, the upstream was cut), an estimate from the request body and the bytes
streamed back.  A request refused before a run started (a bad body, the stream cap), or a run
that failed before any content came, cost no tokens.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import InboundError
from ..quotas import QuotaGate, QuotaTicket
from .context import RequestContext, request_context
from .json_answers import send_error


class QuotaGuard:
    def __init__(self, app: ASGIApp, gate: QuotaGate) -> None:
        self.app = app
        self.gate = gate
        self._later: set[asyncio.Future[None]] = set()  # charges of resumable runs that outlived their response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = request_context(scope)
        identity = context.identity
        try:
            ticket = await self.gate.admit(identity.id if identity else None, identity.claims if identity else {})
        except InboundError as exc:
            context.error = exc.type
            await send_error(send, exc)
            return
        moved = 0  # bytes of the request body and of the answer: the estimate when usage is missing

        async def counted_receive() -> Message:
            nonlocal moved
            message = await receive()
            moved += len(message.get("body", b""))
            return message

        async def counted_send(message: Message) -> None:
            nonlocal moved
            if message["type"] == "http.response.start" and ticket.headers:
                message = {**message, "headers": [*message.get("headers", ()), *ticket.headers]}
            elif message["type"] == "http.response.body":
                moved += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counted_receive, counted_send)
        finally:
            outliving = context.outliving_run
            if outliving is None or outliving.done():
                await self.gate.finish(ticket, tokens=tokens_spent(context), estimate_bytes=moved)
            else:
                # A resumable run goes on after its response (its client left): it is charged, and
                # its stream slot given back, when it ends (docs/resumable-runs.md).
                outliving.add_done_callback(lambda _: self._finish_later(ticket, context, moved))

    def _finish_later(self, ticket: QuotaTicket, context: RequestContext, moved: int) -> None:
        task = asyncio.ensure_future(self.gate.finish(ticket, tokens=tokens_spent(context), estimate_bytes=moved))
        self._later.add(task)
        task.add_done_callback(self._later.discard)


def tokens_spent(context: RequestContext) -> int | None:
    """The tokens a request spent upstream, or ``None`` when only an estimate can tell."""
    run = context.run
    if run is None:
        return 0  # refused before a run: nothing was asked of the upstream
    usage = run.run.usage
    if run.ended and run.error is None and usage is not None:
        return (usage.input_tokens or 0) + (usage.output_tokens or 0)
    if run.error is not None and context.first_event is None:
        return 0  # failed before any content: the upstream made nothing
    return None
