"""Serving the proxy under uvicorn: graceful shutdown on SIGTERM, and logs that keep no secret.

uvicorn's own shutdown stops accepting connections and then waits for the running ones (up to
``timeout_graceful_shutdown``, after which it cancels their tasks: a stream cut that way would
end with no ``RUN_FINISHED`` / ``RUN_ERROR`` and leave a UI loading forever).
:func:`drain_on_exit_signals` starts the proxy's own drain at that same moment, in every worker
process: running streams get ``streams.shutdown_grace`` seconds to finish, then end with
``RUN_ERROR`` code ``shutdown`` and their terminator, so by the time uvicorn would cancel
anything every stream has ended properly.  uvicorn's timeout is kept as a backstop a little past
the grace period (:data:`BACKSTOP`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..core.redact import redact

if TYPE_CHECKING:
    from .app import AGUIProxyMiddleware

log = logging.getLogger("agui_proxy")

# Past the grace period, the streams need a moment to write their RUN_ERROR and close.
BACKSTOP = 10.0
EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def drain_on_exit_signals(proxy: AGUIProxyMiddleware) -> None:
    """When the server's SIGINT / SIGTERM handler runs, start ``proxy``'s drain too.

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
            loop.call_soon_threadsafe(proxy.start_drain)

        signal.signal(sig, on_signal)


async def drain_logged(proxy: AGUIProxyMiddleware) -> None:
    grace = proxy.config.streams.shutdown_grace
    running = proxy.gate.active
    if running:
        log.info("shutting down: %d stream(s) running get %g s to finish", running, grace)
    stopped = await proxy.drain(grace)
    if stopped:
        log.warning("shutting down: ended %d stream(s) still running after %g s with RUN_ERROR shutdown",
                    stopped, grace)


class RedactingFilter(logging.Filter):
    """Takes keys and tokens out of every log record, whoever logs it (httpx, uvicorn, ours)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg, self.secrets)
        if isinstance(record.args, tuple):
            # Argument by argument: formatters such as uvicorn's access log unpack them.
            record.args = tuple(redact(a, self.secrets) if isinstance(a, str) else a for a in record.args)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):  # an access line's fields, which the JSON format writes as they are
            record.fields = {k: redact(v, self.secrets) if isinstance(v, str) else v for k, v in fields.items()}
        if record.exc_info and not record.exc_text:
            # Both formats write this text (a formatter formats exc_info only when exc_text is unset).
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def install_log_redaction(secrets: Sequence[str]) -> None:
    """Put a :class:`RedactingFilter` on every handler configured so far (ours, uvicorn's, the root's)."""
    redacting = RedactingFilter(secrets)
    named = [logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)]
    loggers = [logging.getLogger(), *named]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)
