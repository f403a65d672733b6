"""One client's response to a run, from the 200 to the terminator, whatever happens in between.

- The upstream work runs in a cancel scope that the run's :class:`~.admission.RunSlot` stops.  A
  watcher task waits on the ASGI ``receive`` for ``http.disconnect`` and stops that scope the
  moment the client leaves, which closes the upstream response at once (``upstream/call.py`` closes
  it in a ``finally``), before or after the first byte, during a backoff too.
- While it runs, the stream is registered with the process's :class:`~.keepalive.KeepAlive`,
  which pings it after ``streams.keepalive`` seconds of silence.
- At shutdown the drain stops the scope with reason ``shutdown``: the run then ends with
  ``RUN_ERROR`` code ``shutdown`` and its terminator, a complete stream the UI can show.

How a run is ended (issue 15)
-----------------------------

Three things can end a run early: an upstream timeout (the try's :class:`~.deadline.Deadline`, a
cancel scope inside the run's), the run's own scope (its :class:`~.admission.RunSlot`: shutdown,
disconnect), and a bug (any exception).  Each may strike while a send to a slow client is
blocked, since the proxy writes to the client as it reads the upstream.  Whatever strikes, the
client gets everything the run produced, then its end (``RUN_ERROR`` with the code of what ended
it) and the terminator, because of four rules:

1. **A cancelled send loses nothing.**  :class:`SSEWriter` keeps the bytes of a write until
   its ``send`` returned; a write that was cancelled leaves them to go first with the next one.
   Both of uvicorn's HTTP/1.1 protocols (httptools and h11) wait for the transport to drain
   *before* writing a body message, so a send cancelled while blocked wrote nothing of it: the
   client sees every frame once, in order, and a run's frames are never torn (a
   ``TEXT_MESSAGE_END`` without its start would be an invalid run).
2. **A read is never abandoned mid-scope.**  The coalescing flush runs while the upstream read is
   suspended inside httpcore's cancel scope (``upstream/coalesce.py``); when the flush is interrupted, the
   read is unwound first, so the scopes exit innermost first and the interruption reaches the
   scope that caused it, which catches it, as anyio requires.
3. **Only upstream silence is idle.**  The deadline's ``first_byte`` / ``idle`` clock stops while
   the proxy writes to the client and starts again, whole, when the client took the bytes
   (:meth:`~.deadline.Deadline.write_to_client`).  ``total`` is wall-clock and keeps running: a
   client too slow to take the answer within it gets ``RUN_ERROR upstream_timeout``.
4. **The end is written outside every scope that can end the run.**  The try's error is written
   after its deadline's scope has exited (``upstream/retries.py``), and :func:`respond_with_run`
   writes the shutdown error, any missing end, and the terminator after the run's scope exited,
   so no cancellation can land in them; a client that does not read at all still holds its
   connection until it disconnects or uvicorn's graceful-shutdown backstop (``app/shutdown.py``)
   ends it.

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
from ..upstream.retries import UpstreamRun
from .admission import RunSlot
from .keepalive import PING, KeepAlive

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

    The bytes of a write stay in :attr:`_unsent` until its ``send`` returned, so a write cancelled
    while the client was slow is sent, first, by the next one (rule 1 of the module docstring).
    A ping is skipped while run bytes are unsent or on their way (the client is not idle then),
    when the run wrote since the ping was found due, and once the run has ended.
    """

    __slots__ = ("_clock", "_send", "_unsent", "finished", "last_sent", "run")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._unsent = b""
        # The loop's clock (what anyio.current_time() reads), kept: asking anyio for it on every
        # write looked up the async library and the running loop each time, about 8% of the CPU
        # per paced token in a profile (bench/OPTIMISATIONS.md).
        self._clock = asyncio.get_running_loop().time
        self.last_sent = self._clock()
        self.finished = False
        # The run written (set by respond_with_run): once it has ended no ping may follow, though
        # the response goes on a moment (the upstream connection's end is read for reuse).
        self.run: UpstreamRun | None = None

    async def start(self) -> None:
        await self._send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})

    async def write(self, data: bytes) -> None:
        if self.finished:
            return
        if self._unsent:
            data = self._unsent + data
        if data:
            self._unsent = data
            self.last_sent = self._clock()
            await self._send({"type": "http.response.body", "body": data, "more_body": True})
            self._unsent = b""

    async def ping(self, due: float) -> None:
        """A ping, unless the run wrote since ``due`` (its end, perhaps) or its bytes are on their way."""
        run = self.run
        if not self.finished and not self._unsent and self.last_sent <= due and not (run and run.pipeline.ended):
            self.last_sent = self._clock()
            await self._send({"type": "http.response.body", "body": PING, "more_body": True})

    async def finish(self) -> None:
        if not self.finished:
            await self.write(b"")  # what a cancelled write left
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
    writer.run = run
    # The watcher is a plain asyncio task, not an anyio task group: ASGI servers that run this
    # app run asyncio, and a task group per stream is memory held for the whole stream, which
    # counts at a thousand open ones (bench/OPTIMISATIONS.md: 47.4 KB per open stream at 1,000
    # held).  It only awaits ``receive``.
    watcher = asyncio.ensure_future(watch_client(receive, slot))
    keepalive.add(writer)
    try:
        with anyio.CancelScope() as scope:
            slot.attach(scope)  # stopping the run cancels the work here
            await run.run()
    except Exception:
        # A bug of ours (raised by the work or by a scope's exit) must not leave the UI loading
        # forever (PROTOCOL.md section 2); the error is written outside the scope (rule 4).
        log.exception("%sthe proxy failed while streaming", label)
        await writer.write(run.pipeline.fail(InternalError("the proxy failed while streaming")))
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
