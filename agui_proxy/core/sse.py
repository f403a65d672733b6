"""An incremental Server-Sent Events decoder: bytes in, events out, no I/O.

It follows the WHATWG HTML standard, section 9.2 "Server-sent events" (9.2.6 "Interpreting an
event stream", https://html.spec.whatwg.org/multipage/server-sent-events.html), which is what
every provider SDK implements, with one deliberate extension at end of input (see
:meth:`SSEDecoder.close`).  Any split of the input into chunks gives the same
events, so the HTTP shell can feed whatever the network hands it.
"""

from __future__ import annotations

from dataclasses import dataclass

from agui_proxy.errors import UpstreamProtocolError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEDecoder", "SSEEvent"]

DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str  # the data lines joined with "\n"
    event: str = ""  # the last `event:` field value, "" when the event had none


class SSEDecoder:
    """Turns chunks of an SSE byte stream into :class:`SSEEvent` values.

    ``max_event_size`` caps the bytes held for one event: the raw ``data`` lines seen since the
    last dispatch plus the line still waiting for its end.  Past it, :class:`UpstreamProtocolError`
    is raised (and the decoder is unusable afterwards), so a peer that never ends a line or an
    event cannot make us buffer without bound.  A complete line of any field is held to the same
    sum, which makes *whether* the cap trips independent of how the input was chunked.
    """

    __slots__ = (
        "_at_start",
        "_buf",
        "_closed",
        "_cr",
        "_data",
        "_dirty",
        "_event",
        "_max",
        "_size",
        "_truncated",
    )

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._buf = bytearray()  # the current line, not yet ended (never holds a CR)
        self._at_start = True  # no byte seen past a possible BOM yet
        self._cr = False  # the previous chunk ended in CR: a leading LF now is the same line break
        self._data: list[bytes] = []  # the values of this event's data lines, raw
        self._size = 0  # bytes of this event's whole data lines ("data: " included): the cap's count
        self._event = ""  # the event type buffer
        self._dirty = False  # some field line was seen since the last blank line
        self._max = max_event_size
        self._closed = False
        self._truncated = False

    @property
    def truncated(self) -> bool:
        """True when :meth:`close` found an unterminated line or fields not ended by a blank line."""
        return self._truncated

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode one chunk; returns the events it completed (often none)."""
        if self._closed:
            raise RuntimeError("SSEDecoder.feed() called after close() or after an error")
        if not chunk:
            return []
        if self._at_start:
            # The stream is decoded with "UTF-8 decode", which drops one leading BOM; it may
            # itself arrive split, so hold up to two bytes of a BOM prefix.
            head = bytes(self._buf) + chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._buf[:] = head
                return []
            self._buf.clear()
            self._at_start = False
            chunk = head[3:] if head.startswith(_BOM) else head
        if self._cr:
            # A CR ended the last chunk and was taken as a line end: an LF now completes the CRLF.
            self._cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if (not self._buf and not self._dirty and chunk[:6] == b"data: " and chunk[-2:] == b"\n\n"
                and chunk.find(b"\n") == len(chunk) - 2 and b"\r" not in chunk and len(chunk) - 2 <= self._max):
            # The chunk is exactly one whole event of one data line, with nothing pending: how
            # providers that stream one event per write send nearly every event.  What the rest of
            # this method would give, without splitting it into lines.
            return [SSEEvent(_text(chunk[6:-2]))]
        if b"\r" in chunk:
            # Spec: CRLF, a lone CR and a lone LF all end a line.  Normalise to LF (0x0D never
            # occurs inside multi-byte UTF-8, so this is safe on bytes).
            self._cr = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:  # still inside one line, e.g. a large event arriving in pieces
            self._buf += chunk
            if self._size + len(self._buf) > self._max:
                raise self._too_big()
            return []
        lines = chunk.split(b"\n")
        if self._buf:
            self._buf += lines[0]
            lines[0] = bytes(self._buf)
        self._buf = bytearray(lines.pop())
        events = self._lines(lines)
        if self._size + len(self._buf) > self._max:
            raise self._too_big()
        return events

    def close(self) -> list[SSEEvent]:
        """End of input: returns the event left pending, if any.

        The spec discards an event not ended by a blank line, but recorded streams do end
        without it (FORMATS.md section 0: anthropic/text-then-tool-use-max-tokens-mid-json.sse
        ends in ``data: {...}`` and no newline).  So the unterminated line is read as a line and
        a non-empty data buffer is dispatched; :attr:`truncated` tells the caller, who decides
        whether that event is whole.  Calling ``close()`` again returns ``[]``.
        """
        if self._closed:
            return []
        self._closed = True
        pending = bytes(self._buf)  # a lone partial BOM at start is content, not a BOM
        self._buf.clear()
        self._truncated = bool(pending) or self._dirty
        return self._lines([pending, b""] if pending else [b""])

    def _lines(self, lines: list[bytes]) -> list[SSEEvent]:
        """Interpret complete lines (spec 9.2.6), dispatching on each blank one."""
        events: list[SSEEvent] = []
        data, size, event, dirty, cap = self._data, self._size, self._event, self._dirty, self._max
        for line in lines:
            if not line:  # dispatch; an empty data buffer dispatches nothing
                if data:
                    events.append(SSEEvent(_text(b"\n".join(data)), event))
                    data = []
                    size = 0
                event, dirty = "", False
                continue
            if line[:6] == b"data: ":  # fast path for nearly every provider line; same as below
                size += len(line)
                if size > cap:
                    raise self._too_big()
                data.append(line[6:])
                dirty = True
                continue
            if size + len(line) > cap:  # any line counts, so the cap does not depend on chunking
                raise self._too_big()
            name, _, value = line.partition(b":")  # no colon: the whole line names the field
            if not name:  # a comment, e.g. ": OPENROUTER PROCESSING"
                continue
            dirty = True
            if value[:1] == b" ":  # spec: drop exactly one leading space
                value = value[1:]
            if name == b"data":
                # The data buffer gains value + LF, so even "data:" makes the event dispatchable.
                size += len(line)
                data.append(value)
            elif name == b"event":
                event = _text(value)
            # id and retry matter to a browser's reconnection only; unknown fields are ignored.
        self._data, self._size, self._event, self._dirty = data, size, event, dirty
        return events

    def _too_big(self) -> UpstreamProtocolError:
        self._closed = True
        return UpstreamProtocolError(f"upstream event larger than {self._max} bytes")


def _text(raw: bytes) -> str:
    """UTF-8 with U+FFFD for invalid bytes, as the spec's "UTF-8 decode" does, never an error."""
    try:
        return raw.decode()  # the common case, and much cheaper than passing an error handler
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")
