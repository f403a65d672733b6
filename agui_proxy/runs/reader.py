"""One client's response to a resumable run: a reader of the run's log, from a cursor to the end.

The original ``POST`` and every reattach (``GET <route>/runs/<runId>``) are answered the same way:
the frames after the cursor, each with its ``id: <seq>`` line, then live frames as the run's
driver writes them, then the terminator the original request had.  Pings (``: ping``) carry no
id.  While it reads, the reader renews its presence in the log (``RunLog.attach``), which is how
the run's driver, on this process or another, knows a client is still there; a client that
leaves detaches at once.

A reader never holds the run up: it only reads.  A slow client makes its own reader lag behind.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import anyio
from starlette.types import Message, Receive, Send

from ..core.frames import with_id
from ..errors import StoreUnavailable
from ..store import RunLog
from .admission import RunSlot
from .keepalive import KeepAlive
from .stream import SSEWriter

log = logging.getLogger("agui_proxy")

RUN_ID_HEADER = b"x-run-id"
READ_WAIT = 1.0  # seconds one read of the log waits for new frames
# A reader counts as attached this long after it last said so (it says so every READ_WAIT at
# least): long enough for a send to a slow client, short enough that a reader whose process died
# stops counting soon.
ATTACH_TTL = 10.0
# Seconds a reader stopped by a drain waits for its run's end (written at once by a driver here).
SHUTDOWN_END_WAIT = 2.0


async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


def _with_run_id(send: Send, run_id: str) -> Send:
    header = (RUN_ID_HEADER, run_id.encode())

    async def send_with_run_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), header]}
        await send(message)

    return send_with_run_id


async def follow_run(runs_log: RunLog, key: str, run_id: str, after: int, *, receive: Receive, send: Send,
                     keepalive: KeepAlive, label: str, slot: RunSlot | None = None) -> bool:
    """Answer with run ``key`` from after seq ``after``; ``True`` when its end was sent.

    ``slot`` (a reattach's) may stop the reader early.  A drain does so, and then the reader still
    waits a moment (:data:`SHUTDOWN_END_WAIT`) for the run's end: a run driven here is ending with
    ``RUN_ERROR`` ``shutdown``, which its readers get like its first client.  A run driven by
    another process is not ending: its reader is cut, and its client reattaches elsewhere.
    """
    writer = SSEWriter(_with_run_id(send, run_id))
    await writer.start()
    reading = _Reading(runs_log, key, after, writer)
    with anyio.CancelScope() as connected:  # the client's disconnect ends everything
        watcher = asyncio.ensure_future(_watch_disconnect(receive, connected))
        keepalive.add(writer)
        try:
            with anyio.CancelScope() as following:  # a stopped slot ends only this
                if slot is not None:
                    slot.attach(following)
                await reading.follow()
            if slot is not None and slot.stop_reason == "shutdown" and not reading.done:
                with anyio.move_on_after(SHUTDOWN_END_WAIT):
                    await reading.follow()
        except StoreUnavailable as exc:
            log.warning("%sthe run log failed while reading (%s)", label, exc)
        finally:
            keepalive.discard(writer)
            watcher.cancel()
            with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                try:
                    await runs_log.detach(key, reading.reader)
                except StoreUnavailable:
                    pass  # its presence runs out by itself (ATTACH_TTL)
    await writer.finish()
    return reading.ended


class _Reading:
    """One reader's place in the run's log: the last seq sent, and whether the run is done."""

    __slots__ = ("cursor", "ended", "gone", "key", "log", "reader", "writer")

    def __init__(self, runs_log: RunLog, key: str, cursor: int, writer: SSEWriter) -> None:
        self.log = runs_log
        self.key = key
        self.cursor = cursor
        self.writer = writer
        self.reader = uuid.uuid4().hex
        self.ended = False  # the run's end was sent
        self.gone = False  # the log no longer has the run (dropped or expired while read)

    @property
    def done(self) -> bool:
        return self.ended or self.gone

    async def follow(self) -> None:
        """Send what the log has after the cursor, then live frames, until the run's end."""
        renew_at = 0.0
        while True:
            now = anyio.current_time()
            if now >= renew_at:
                await self.log.attach(self.key, self.reader, ttl=ATTACH_TTL)
                renew_at = now + READ_WAIT
            chunk = await self.log.read(self.key, self.cursor, wait=READ_WAIT)
            if chunk is None:
                self.gone = True
                return
            if chunk.frames:
                await self.writer.write(b"".join([with_id(seq, frame) for seq, frame in chunk.frames]))
                self.cursor = chunk.frames[-1][0]
            if chunk.end is not None:
                await self.writer.write(chunk.end)
                self.ended = True
                return
