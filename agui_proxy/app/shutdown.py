"""The one owner of shutdown: one draining state, read by ``/readyz`` and the admission gate.

:meth:`Shutdown.begin` is the moment the process stops taking work: ``/readyz`` answers 503 and
the gate refuses new runs (503 ``shutting_down``); the runs already admitted go on.  The lifespan's
shutdown message begins it, and so does the drain.  :meth:`Shutdown.drain` is the graceful stop:
it begins, gives the running runs ``streams.shutdown_grace`` seconds to finish, then ends the rest
with ``RUN_ERROR`` code ``shutdown`` and their terminator; it runs once however often it is asked.

Under uvicorn (the CLI), :func:`drain_on_exit_signals` starts the drain when SIGTERM or SIGINT
arrives, in every worker process.  uvicorn's own shutdown stops accepting connections and then
waits for the running ones (up to ``timeout_graceful_shutdown``, after which it cancels their
tasks: a stream cut that way would end with no ``RUN_FINISHED`` / ``RUN_ERROR`` and leave a UI
loading forever); the drain has ended every stream properly by then, and uvicorn's timeout is
kept as a backstop a little past the grace period (:data:`BACKSTOP`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from ..runs.admission import AdmissionGate

log = logging.getLogger("agui_proxy")

# Past the grace period, the streams need a moment to write their RUN_ERROR and close.
BACKSTOP = 10.0
EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


# Seconds the stopped runs get to write their RUN_ERROR and terminator before the drain is done.
WIND_DOWN = 5.0


class Shutdown:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._draining = False
        self._drain: asyncio.Future[int] | None = None

    @property
    def draining(self) -> bool:
        """True from :meth:`begin` on: not ready, no new run."""
        return self._draining

    def begin(self) -> None:
        self._draining = True

    def drain(self, gate: AdmissionGate, grace: float | None = None) -> asyncio.Future[int]:
        """Begin, then stop ``gate``'s running runs after ``grace`` seconds (default
        ``streams.shutdown_grace``); the future gives how many had to be stopped.  Asked again,
        it gives the drain already under way."""
        self.begin()
        if self._drain is None:
            self._drain = asyncio.ensure_future(self._stop(gate, self.grace if grace is None else grace))
        return self._drain

    async def _stop(self, gate: AdmissionGate, grace: float) -> int:
        if gate.active:
            log.info("shutting down: %d stream(s) running get %g s to finish", gate.active, grace)
        await gate.wait_until_idle(grace)
        stopped = gate.stop_all("shutdown")
        if stopped:
            # Said now, not once they have written their ends: the server may stop the loop as
            # soon as their connections close, and this task with it.
            log.warning("shutting down: ended %d stream(s) still running after %g s with RUN_ERROR shutdown",
                        stopped, grace)
        await gate.wait_until_idle(WIND_DOWN)
        return stopped


def drain_on_exit_signals(start_drain: Callable[[], object]) -> None:
    """When the server's SIGINT / SIGTERM handler runs, call ``start_drain`` too (in the loop).

    Called at lifespan startup, inside the serving process, after uvicorn installed its handlers
    (with ``signal.signal``, which it restores when it stops): each is wrapped, not replaced, so
    uvicorn still stops accepting and waits for the connections, which the drain ends in time.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only; a server in a thread has no SIGTERM of its own
    loop = asyncio.get_running_loop()
    for sig in EXIT_SIGNALS:
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def on_signal(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            previous(signum, frame)
            loop.call_soon_threadsafe(start_drain)

        signal.signal(sig, on_signal)
