"""Admission of streams into one process: the concurrency cap, and the drain at shutdown.

Every stream the routes serve holds an :class:`ActiveStream` from admission to its last byte.
Past ``streams.max_concurrent`` a request is refused with 503 and ``Retry-After`` before its
body is read, so an overloaded process spends nothing on it; the slot itself is taken once the
body is in (``limits.body_timeout`` bounds that wait), so a body sent slowly holds none.
:meth:`StreamGate.drain` is the graceful shutdown: new streams are refused, running ones get
``streams.shutdown_grace`` seconds to finish, then each is stopped and ends with ``RUN_ERROR``
code ``shutdown`` and its terminator (the stream itself writes those: see ``session.py``).
"""

from __future__ import annotations

import anyio

from ..errors import InboundError

# How often drain() looks whether the streams are gone: a shutdown is no hot path.
_DRAIN_POLL = 0.02


class ActiveStream:
    """One admitted stream: the cancel scope its work runs in (attached once it runs), and why
    it was stopped."""

    __slots__ = ("scope", "stop_reason")

    def __init__(self) -> None:
        self.scope: anyio.CancelScope | None = None
        self.stop_reason: str | None = None  # "disconnect" or "shutdown"

    def attach(self, scope: anyio.CancelScope) -> None:
        """The scope :meth:`stop` cancels; cancelled at once if the stream was stopped already."""
        self.scope = scope
        if self.stop_reason is not None:
            scope.cancel()

    def stop(self, reason: str) -> None:
        """End the stream's work now (the first reason wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            if self.scope is not None:
                self.scope.cancel()


class StreamGate:
    def __init__(self, max_concurrent: int, retry_after: int) -> None:
        self.max_concurrent = max_concurrent
        self.retry_after = retry_after
        self.draining = False
        self._active: set[ActiveStream] = set()

    @property
    def active(self) -> int:
        return len(self._active)

    def admit(self) -> ActiveStream:
        """A slot for one stream, or a 503 :class:`InboundError` (with its Retry-After)."""
        self.check()
        stream = ActiveStream()
        self._active.add(stream)
        return stream

    def check(self) -> None:
        """The 503 :meth:`admit` would raise now, without taking a slot: asked before the body is
        read, so an overloaded process spends nothing on it, and a slow body holds no slot."""
        if self.draining:
            raise InboundError(503, "shutting_down", "the proxy is shutting down; send the request again",
                               retry_after=self.retry_after)
        if len(self._active) >= self.max_concurrent:
            raise InboundError(503, "overloaded", f"the proxy is serving its maximum of {self.max_concurrent} "
                               f"streams; retry after {self.retry_after} s", retry_after=self.retry_after)

    def release(self, stream: ActiveStream) -> None:
        self._active.discard(stream)

    async def drain(self, grace: float, *, wind_down: float = 5.0) -> int:
        """Refuse new streams, wait up to ``grace`` seconds, then stop those still running.

        Returns how many had to be stopped.  Waits up to ``wind_down`` more seconds for them to
        write their ``RUN_ERROR`` and terminator.
        """
        self.draining = True
        with anyio.move_on_after(grace):
            while self._active:
                await anyio.sleep(_DRAIN_POLL)
        stopped = list(self._active)
        for stream in stopped:
            stream.stop("shutdown")
        with anyio.move_on_after(wind_down):
            while self._active:
                await anyio.sleep(_DRAIN_POLL)
        return len(stopped)
