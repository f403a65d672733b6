"""One client's response to a run, from the 200 to the terminator, whatever happens in between.

- The upstream work runs in a cancel scope that the run's :class:`~.admission.RunSlot` stops.  A
  watcher task waits on the ASGI ``receive`` for ``http.disconnect`` and stops that scope the
  moment the client leaves, which closes the upstream response at once (``upstream.py`` closes
  it in a ``finally``), before or after the first byte, during a backoff too.
- While it runs, the stream is registered with the process's :class:`~.keepalive.KeepAlive`,
  which pings it after ``streams.keepalive`` seconds of silence.
- At shutdown the drain stops the scope with reason ``shutdown``: the run then ends with
  ``RUN_ERROR`` code ``shutdown`` and its terminator, a complete stream the UI can show.

Whatever ends the run, the response is finished properly: an unexpected error in the proxy
itself is logged and still ends the run with ``RUN_ERROR`` code ``internal_error``.
"""

from __future__ import annotations

import asyncio
import logging

import anyio
from starlette.types import Receive, Send

from ..core.pipeline import RunPipeline
from ..errors import InternalError, RunAborted, UpstreamReportedError
from .admission import RunSlot
from .keepalive import PING, KeepAlive
from .reliability import UpstreamRun

log = logging.getLogger("agui_proxy")

SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class SSEWriter:
    """The body of one SSE response: frames and pings, and nothing after the end.

    Two tasks write (the run, and the keep-alive's pings) without a lock: each ASGI body message is
    written whole, and a ``send`` that waits for the client to drain waits in line (asyncio
    wakes an event's waiters in order), so messages keep the order their ``send`` was called in.
    What must not happen is a ping sent after the last message: ``finished`` is set before it.
    """

    __slots__ = ("_clock", "_send", "finished", "last_sent")

    def __init__(self, send: Send) -> None:
        self._send = send
        # The loop's clock (what anyio.current_time() reads), kept: asking anyio for it on every
        # write looked up the async library and the running loop each time, about 8% of the CPU
        # per paced token in a profile (bench/OPTIMISATIONS.md).
        self._clock = asyncio.get_running_loop().time
        self.last_sent = self._clock()
        self.finished = False

    async def start(self) -> None:
        await self._send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})

    async def write(self, data: bytes) -> None:
        if data and not self.finished:
            self.last_sent = self._clock()
            await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def ping(self) -> None:
        await self.write(PING)

    async def finish(self) -> None:
        if not self.finished:
            self.finished = True
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})


async def watch_client(receive: Receive, slot: RunSlot) -> None:
    """Stop ``slot``'s run the moment the client disconnects."""
    # The body was read before the stream started, so the next message is the disconnect.
    while (await receive())["type"] != "http.disconnect":
        pass
    slot.stop("disconnect")


async def respond_with_run(run: UpstreamRun, *, receive: Receive, writer: SSEWriter, slot: RunSlot,
                           keepalive: KeepAlive, label: str) -> None:
    """Send the 200 and ``RUN_STARTED``, run the upstream tries until they or the client or a
    shutdown end the run, then end the run and the response."""
    await writer.start()
    await writer.write(run.pipeline.start())
    # The watcher is a plain asyncio task, not an anyio task group: ASGI servers that run this
    # app run asyncio, and a task group per stream is memory held for the whole stream, which
    # counts at a thousand open ones (bench/OPTIMISATIONS.md: 47.4 KB per open stream at 1,000
    # held).  It only awaits ``receive``.
    watcher = asyncio.ensure_future(watch_client(receive, slot))
    keepalive.add(writer)
    try:
        with anyio.CancelScope() as scope:
            slot.attach(scope)  # stopping the run cancels the work here
            try:
                await run.run()
            except Exception:
                # A bug of ours must not leave the UI loading forever (PROTOCOL.md section 2).
                log.exception("%sthe proxy failed while streaming", label)
                failure = InternalError("the proxy failed while streaming")
                await writer.write(run.pipeline.fail(failure))
    finally:
        keepalive.discard(writer)
        watcher.cancel()
        await asyncio.wait([watcher])
    if slot.stop_reason == "shutdown":
        await writer.write(run.pipeline.fail(RunAborted("the proxy is shutting down; send the request again")))
    if slot.stop_reason != "disconnect":
        await writer.write(_ended(run.pipeline))
    await writer.finish()
    error = run.pipeline.error
    if error is not None:
        log.warning("%srun ended with %s: %s", label, error.code, error.message)
    elif slot.stop_reason == "disconnect":
        log.info("%sthe client left; the upstream request was closed", label)


def _ended(pipeline: RunPipeline) -> bytes:
    # Work that returned without ending the run (a cancelled try) must not leave it open.
    if pipeline.ended:
        return b""
    return pipeline.fail(UpstreamReportedError("the run ended without an answer"))
