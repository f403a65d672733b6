"""``limits.max_header_bytes`` and ``limits.max_headers``: a request's head is bounded before anyone is known.

Nothing bounded a request's headers: one connection sent a 48 MB header before auth, and the
process grew by 73 MB while ``/healthz`` stalled (httptools grows a value by concatenation;
issue 26).  h11 stops at 16 KB on its own, with a bare 400.  Like nginx's
``large_client_header_buffers`` and Node's ``maxHeaderSize``, the protocols here count the bytes
of a request's head as they arrive (the request line and the headers up to the blank line that
ends them, whatever the parser) and, past ``max_header_bytes``, answer ``431 Request Header
Fields Too Large`` with the proxy's JSON error, before the read that passed it is parsed.  The
number of header fields is checked by the app (``middleware/header_count.py``), which also serves the
middleware mode.

A head is "arriving" from the moment the connection opens, or its previous request ended (its
response sent and its body read), until
the parser has it whole (uvicorn then creates the request's cycle: the signal the header
timeout reads too).  After the 431 the connection reads and drops what the client still sends (so that it
reads the answer instead of a reset) until ``server.header_timeout`` closes it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..errors import InboundError

DEFAULT_MAX_HEADER_BYTES = 64 * 1024
# What uvicorn reads at most at once (asyncio's and uvloop's read size): h11's own cap on an
# incomplete head is put past the limit by this much, so that the 431 here comes first.
READ_SIZE = 256 * 1024


def headers_too_large(limit: int) -> InboundError:
    return InboundError(431, "headers_too_large",
                        f"the request's headers exceed {limit} bytes (limits.max_header_bytes)")


def _raw_error(error: InboundError) -> bytes:
    body = json.dumps({"error": {"type": error.type, "message": error.message}}).encode()
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)


class HeaderSizeLimit(asyncio.Protocol):
    """The count, put before uvicorn's protocol class (``super()`` is that class)."""

    # Declared for the type checker: uvicorn's protocols set these.
    config: Any
    transport: asyncio.Transport
    cycle: Any
    _head_bytes = 0  # of the head arriving, in the reads before this one
    _tail = b""  # the last two bytes of the previous read (a blank line split between reads)
    _refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused head: dropped
        cycle = self.cycle
        # Between requests: the previous one answered and its body read to the end (the rest of a
        # body a 413 did not read is that request's, not the next head).
        if cycle is None or (cycle.response_complete and not cycle.more_body):
            end = self._head_end(data)
            head = self._head_bytes + (len(data) if end == -1 else end)
            if head > self._limit():
                self._refuse()
                return
            self._head_bytes, self._tail = (head, data[-2:]) if end == -1 else (0, b"")
        super().data_received(data)

    def _head_end(self, data: bytes) -> int:
        """How many bytes of ``data`` are the head's, up to its blank line (``\\r\\n\\r\\n``, or
        bare ``\\n`` line ends, which h11 takes), or -1 when it does not end in ``data``."""
        ends = []
        for blank in (b"\n\r\n", b"\n\n"):
            at = (self._tail + data[:len(blank) - 1]).find(blank)  # a blank line split between reads
            if at != -1:
                ends.append(at + len(blank) - len(self._tail))
            elif (at := data.find(blank)) != -1:
                ends.append(at + len(blank))
        return min(ends, default=-1)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._head_bytes, self._tail = 0, b""

    def _limit(self) -> int:
        limit: int = getattr(self.config, "max_header_bytes", DEFAULT_MAX_HEADER_BYTES)
        return limit

    def _refuse(self) -> None:
        self._refused = True
        self.transport.write(_raw_error(headers_too_large(self._limit())))
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer is whole; what still arrives is read and dropped
        else:
            self.transport.close()
