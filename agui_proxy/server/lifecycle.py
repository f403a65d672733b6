"""Running the proxy under uvicorn: graceful shutdown on SIGTERM, and logs that keep no secret.

uvicorn's own shutdown stops accepting connections and then waits for the running ones (up to
``timeout_graceful_shutdown``, after which it cancels their tasks: a stream cut that way would
end with no ``RUN_FINISHED`` / ``RUN_ERROR`` and leave a UI loading forever).  :class:`ProxyServer`
starts the proxy's own drain at that same moment: running streams get ``streams.shutdown_grace``
seconds to finish, then end with ``RUN_ERROR`` code ``shutdown`` and their terminator, so by the
time uvicorn would cancel anything every stream has ended properly.  uvicorn's timeout is kept
as a backstop a little past the grace period.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence

import anyio
import uvicorn

from ..core.redact import redact
from .app import AGUIProxyMiddleware

log = logging.getLogger("agui_proxy")

# Past the grace period, the streams need a moment to write their RUN_ERROR and close.
BACKSTOP = 10.0


class ProxyServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, proxy: AGUIProxyMiddleware) -> None:
        super().__init__(config)
        self.proxy = proxy

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._drain)
            await super().shutdown(sockets)

    async def _drain(self) -> None:
        grace = self.proxy.config.streams.shutdown_grace
        running = self.proxy.gate.active
        if running:
            log.info("shutting down: %d stream(s) running get %g s to finish", running, grace)
        stopped = await self.proxy.drain(grace)
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
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
        return True


def install_log_redaction(secrets: Sequence[str]) -> None:
    """Put a :class:`RedactingFilter` on every handler configured so far (root and uvicorn's)."""
    redacting = RedactingFilter(secrets)
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access"))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)


def serve(proxy: AGUIProxyMiddleware, host: str, port: int, log_level: str) -> bool:
    """Serve until SIGINT/SIGTERM; false when the server could not start."""
    grace = proxy.config.streams.shutdown_grace
    config = uvicorn.Config(proxy, host=host, port=port, log_level=log_level, lifespan="on",
                            timeout_graceful_shutdown=int(grace + BACKSTOP))
    install_log_redaction(proxy.secrets)  # after uvicorn.Config: it configures its handlers
    server = ProxyServer(config, proxy)
    server.run()
    return server.started
