"""``streams.send_timeout``: a client that takes nothing of what the proxy writes loses its connection.

uvicorn's ``send`` waits for the transport to drain before it writes a body message, and waits
for as long as the client does not read: a client that stops reading held its stream slot, its
quota lease, its connection and the megabytes buffered for it for ever (200 such clients took
every slot, issue 26).  Like nginx's ``send_timeout``, the protocols here give a stalled
connection ``send_timeout`` seconds: past that with nothing taken, the connection is reset, which
uvicorn reports to the app as a disconnect (the blocked ``send`` returns, ``receive`` answers
``http.disconnect``), so the run stops and frees what it held at once.  Whatever the proxy still
meant to write (a closing ``RUN_ERROR``) is best effort: it waits on the same clock, never longer.

No timer runs while writes go through: the transport tells the protocol when its buffer passes
its high-water mark (``pause_writing``, the moment a write would block) and when it drained
(``resume_writing``), and only then is one ``call_later`` handle armed, per stalled connection,
not per write.  When it fires and the buffer shrank meanwhile (the client read something), the
clock starts again.

The reset (``SO_LINGER`` 0, as nginx's ``reset_timedout_connection``) discards what the kernel
still buffers for the client, instead of keeping it for a peer that is not reading.

Shutdown bounds the clock too: once the server shuts down (it calls each connection's
``shutdown``), a stalled connection is reset :data:`SHUTDOWN_MARGIN` seconds before the server's
``timeout_graceful_shutdown`` would cancel its task, so its stream ends as a disconnect, quietly,
instead of as a cancelled task with a traceback; the closing ``RUN_ERROR`` had until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

DEFAULT_SEND_TIMEOUT = 30.0
_RESET = struct.pack("ii", 1, 0)  # struct linger {l_onoff = 1, l_linger = 0}: close with a reset
# Seconds before the server's graceful-shutdown timeout at which stalled connections are reset.
SHUTDOWN_MARGIN = 2.0


class SendDeadline(asyncio.Protocol):
    """The timer, put before uvicorn's protocol class (``super()`` is that class)."""

    # Declared for the type checker: uvicorn's protocols set these.
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _send_timer: asyncio.TimerHandle | None = None
    _stalled_buffer = 0
    _last_send_at: float | None = None  # from shutdown on: when a stalled connection is reset

    def pause_writing(self) -> None:
        super().pause_writing()
        self._arm_send_timer(self.transport.get_write_buffer_size())

    def resume_writing(self) -> None:
        self._stop_send_timer()
        super().resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_send_timer()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        super().shutdown()  # type: ignore[misc]
        graceful = getattr(getattr(self, "config", None), "timeout_graceful_shutdown", None)
        if graceful is None:
            return
        self._last_send_at = self.loop.time() + max(0.0, graceful - SHUTDOWN_MARGIN)
        if self._send_timer is not None:  # stalled now: its clock ends by then
            self._arm_send_timer(self._stalled_buffer)

    def _arm_send_timer(self, buffered: int) -> None:
        self._stop_send_timer()
        self._stalled_buffer = buffered
        seconds = getattr(getattr(self, "config", None), "send_timeout", DEFAULT_SEND_TIMEOUT)
        if self._last_send_at is not None:
            seconds = max(0.0, min(seconds, self._last_send_at - self.loop.time()))
        self._send_timer = self.loop.call_later(seconds, self._send_overdue)

    def _stop_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_overdue(self) -> None:
        self._send_timer = None
        if self.transport.is_closing():
            return
        buffered = self.transport.get_write_buffer_size()
        shutting_down = self._last_send_at is not None and self.loop.time() >= self._last_send_at
        if buffered < self._stalled_buffer and not shutting_down:  # a slow reader, not a stalled one
            self._arm_send_timer(buffered)
            return
        reset(self.transport)


def reset(transport: asyncio.Transport) -> None:
    """Close ``transport`` at once, dropping what is buffered for the peer (kernel buffers too)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    transport.abort()
