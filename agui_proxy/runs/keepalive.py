"""Keep-alive pings: an SSE comment (``: ping``) to every stream silent for ``streams.keepalive`` s.

Proxies and load balancers cut connections that carry nothing for a while (often 30 to 60 s),
and reasoning models can think for minutes without a byte (FORMATS.md section 0).  Clients
ignore comments: the official AG-UI client reads ``data:`` lines only.

One task serves every stream of the process: it wakes four times per interval and pings those
whose last write is an interval old, so a stream costs no timer of its own (at a thousand open
streams that is memory and wake-ups saved).  It runs while streams are registered and ends by
itself when none are left.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import anyio

PING = b": ping\n\n"


class Pingable(Protocol):
    last_sent: float  # anyio.current_time() of the last write
    finished: bool

    async def ping(self, due: float) -> None:
        """Send a ping unless something was written after ``due`` (the run's end, say) meanwhile."""


class KeepAlive:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._streams: set[Pingable] = set()
        self._pinging: dict[Pingable, asyncio.Future[None]] = {}  # pings under way, held until done
        self._task: asyncio.Future[None] | None = None

    def add(self, stream: Pingable) -> None:
        if not self.interval:
            return
        self._streams.add(stream)
        if self._task is None or self._task.done():
            # A plain asyncio task: it outlives any one request, so no request's task group owns it.
            self._task = asyncio.ensure_future(self._run())

    def discard(self, stream: Pingable) -> None:
        self._streams.discard(stream)

    async def _run(self) -> None:
        while self._streams:
            await anyio.sleep(self.interval / 4)
            due = anyio.current_time() - self.interval
            for stream in list(self._streams):
                if stream.last_sent <= due and not stream.finished and stream not in self._pinging:
                    # Its own task: a client that does not read must not hold up the others' pings.
                    self._pinging[stream] = asyncio.ensure_future(self._ping(stream, due))

    async def _ping(self, stream: Pingable, due: float) -> None:
        try:
            # The task runs a moment later: the stream may have written its end by then, and a ping
            # after the terminator would be a frame after the end.
            await stream.ping(due)
        finally:
            self._pinging.pop(stream, None)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
