"""One client's stream, from the 200 to the terminator, whatever happens in between.

- The upstream work runs in the :class:`~agui_proxy.server.limits.ActiveStream`'s cancel scope.
  A watcher task waits on the ASGI ``receive`` for ``http.disconnect`` and stops that scope the
  moment the client leaves, which closes the upstream response at once (``upstream.py`` closes
  it in a ``finally``), before or after the first byte, during a backoff too.
- The same watcher sends an SSE comment (``: ping``) whenever the client has been sent nothing
  for ``streams.keepalive`` seconds, so proxies and load balancers do not cut a long reasoning
  pause.  Clients ignore comments (the official AG-UI client reads ``data:`` lines only).
- At shutdown the gate stops the scope with reason ``shutdown``: the run then ends with
  ``RUN_ERROR`` code ``shutdown`` and its terminator, a complete stream the UI can show.

Whatever ends the run, the response is finished properly: an unexpected error in the proxy
itself is logged and still ends the run with ``RUN_ERROR`` code ``internal_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from starlette.types import Receive, Send

from ..core.stream import RunStream
from ..errors import RunAborted, UpstreamError
from .limits import ActiveStream
from .reliability import UpstreamRun

log = logging.getLogger("agui_proxy")

SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
PING = b": ping\n\n"


class ClientWriter:
    """The body of one SSE response: frames and pings, one writer at a time, nothing after the end."""

    __slots__ = ("_lock", "_send", "finished", "last_sent")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._lock = anyio.Lock()
        self.last_sent = anyio.current_time()
        self.finished = False

    async def start(self) -> None:
        await self._send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})

    async def write(self, data: bytes) -> None:
        if not data or self.finished:
            return
        async with self._lock:
            if not self.finished:
                await self._send({"type": "http.response.body", "body": data, "more_body": True})
                self.last_sent = anyio.current_time()

    async def finish(self) -> None:
        async with self._lock:
            if not self.finished:
                self.finished = True
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})


async def watch_client(receive: Receive, writer: ClientWriter, active: ActiveStream, keepalive: float) -> None:
    """Stop ``active`` when the client disconnects; ping it after ``keepalive`` s of silence."""
    while True:
        wait = keepalive - (anyio.current_time() - writer.last_sent) if keepalive else float("inf")
        if wait <= 0:
            await writer.write(PING)
            continue
        with anyio.move_on_after(wait):
            # The body was read before the stream started, so the next message is the disconnect.
            if (await receive())["type"] == "http.disconnect":
                active.stop("disconnect")
                return


async def serve_stream(run: UpstreamRun, work: Callable[[], Awaitable[None]], *, receive: Receive,
                       writer: ClientWriter, active: ActiveStream, keepalive: float, label: str) -> None:
    """Send the 200 and ``RUN_STARTED``, run ``work`` (the upstream tries) until it or the client
    or a shutdown ends it, then end the run and the response."""
    await writer.start()
    await writer.write(run.stream.start())
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_client, receive, writer, active, keepalive)
        try:
            with active.scope:
                await work()
        except Exception:
            # A bug of ours must not leave the UI loading forever (PROTOCOL.md section 2).
            log.exception("%sthe proxy failed while streaming", label)
            failure = UpstreamError("the proxy failed while streaming", code="internal_error")
            await writer.write(run.stream.fail(failure))
        tg.cancel_scope.cancel()
    if active.stop_reason == "shutdown":
        await writer.write(run.stream.fail(RunAborted("the proxy is shutting down; send the request again")))
    if active.stop_reason != "disconnect":
        await writer.write(_ended(run.stream))
    await writer.finish()
    error = run.stream.error
    if error is not None:
        log.warning("%srun ended with %s: %s", label, error.code, error.message)
    elif active.stop_reason == "disconnect":
        log.info("%sthe client left; the upstream request was closed", label)


def _ended(stream: RunStream) -> bytes:
    # Work that returned without ending the run (a cancelled try) must not leave it open.
    if stream.ended:
        return b""
    return stream.fail(UpstreamError("the run ended without an answer", code="upstream_error"))
