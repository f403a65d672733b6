"""One client's stream, from the 200 to the terminator, whatever happens in between.

- The upstream work runs in a cancel scope that the :class:`~.limits.ActiveStream` stops.  A
  watcher task waits on the ASGI ``receive`` for ``http.disconnect`` and stops that scope the
  moment the client leaves, which closes the upstream response at once (``upstream.py`` closes
  it in a ``finally``), before or after the first byte, during a backoff too.
- While it runs, the stream is registered with the process's :class:`~.keepalive.KeepAlive`,
  which pings it after ``streams.keepalive`` seconds of silence.
- At shutdown the gate stops the scope with reason ``shutdown``: the run then ends with
  ``RUN_ERROR`` code ``shutdown`` and its terminator, a complete stream the UI can show.

Whatever ends the run, the response is finished properly: an unexpected error in the proxy
itself is logged and still ends the run with ``RUN_ERROR`` code ``internal_error``.
"""

from __future__ import annotations

import asyncio
import logging

import anyio
from starlette.types import Receive, Send

from ..core.stream import RunStream
from ..errors import InternalError, RunAborted, UpstreamReportedError
from .keepalive import PING, KeepAlive
from .limits import ActiveStream
from .reliability import UpstreamRun

log = logging.getLogger("agui_proxy")

SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class ClientWriter:
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


async def watch_client(receive: Receive, active: ActiveStream) -> None:
    """Stop ``active`` the moment the client disconnects."""
    # The body was read before the stream started, so the next message is the disconnect.
    while (await receive())["type"] != "http.disconnect":
        pass
    active.stop("disconnect")


async def serve_stream(run: UpstreamRun, *, receive: Receive, writer: ClientWriter, active: ActiveStream,
                       keepalive: KeepAlive, label: str) -> None:
    """Send the 200 and ``RUN_STARTED``, run the upstream tries until they or the client or a
    shutdown end the run, then end the run and the response."""
    await writer.start()
    await writer.write(run.stream.start())
    # The watcher is a plain asyncio task, not an anyio task group: ASGI servers that run this
    # app run asyncio, and a task group per stream costs about 2.5 KB of the 50 KB a stream may
    # take (measured with tests/integration/test_load.py).  It only awaits ``receive``.
    watcher = asyncio.ensure_future(watch_client(receive, active))
    keepalive.add(writer)
    try:
        with anyio.CancelScope() as scope:
            active.attach(scope)  # stopping the stream cancels the work here
            try:
                await run.run()
            except Exception:
                # A bug of ours must not leave the UI loading forever (PROTOCOL.md section 2).
                log.exception("%sthe proxy failed while streaming", label)
                failure = InternalError("the proxy failed while streaming")
                await writer.write(run.stream.fail(failure))
    finally:
        keepalive.discard(writer)
        watcher.cancel()
        await asyncio.wait([watcher])
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
    return stream.fail(UpstreamReportedError("the run ended without an answer"))
