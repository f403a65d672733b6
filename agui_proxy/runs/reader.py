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

    ``slot`` (a reattach's) may stop the reader early: a drain ends readers, and their clients
    reattach elsewhere.
    """
    writer = SSEWriter(_with_run_id(send, run_id))
    await writer.start()
    reader = uuid.uuid4().hex
    ended = False
    with anyio.CancelScope() as reading:
        if slot is not None:
            slot.attach(reading)
        watcher = asyncio.ensure_future(_watch_disconnect(receive, reading))
        keepalive.add(writer)
        try:
            ended = await _read(runs_log, key, after, reader, writer)
        except StoreUnavailable as exc:
            log.warning("%sthe run log failed while reading (%s)", label, exc)
        finally:
            keepalive.discard(writer)
            watcher.cancel()
            with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                try:
                    await runs_log.detach(key, reader)
                except StoreUnavailable:
                    pass  # its presence runs out by itself (ATTACH_TTL)
    await writer.finish()
    return ended


async def _read(runs_log: RunLog, key: str, cursor: int, reader: str, writer: SSEWriter) -> bool:
    renew_at = 0.0
    while True:
        now = anyio.current_time()
        if now >= renew_at:
            await runs_log.attach(key, reader, ttl=ATTACH_TTL)
            renew_at = now + READ_WAIT
        chunk = await runs_log.read(key, cursor, wait=READ_WAIT)
        if chunk is None:
            return False  # the run is gone (dropped or expired while read)
        if chunk.frames:
            await writer.write(b"".join([with_id(seq, frame) for seq, frame in chunk.frames]))
            cursor = chunk.frames[-1][0]
        if chunk.end is not None:
            await writer.write(chunk.end)
            return True
