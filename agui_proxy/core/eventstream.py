"""An incremental decoder of AWS's binary event stream: bytes in, messages out, no I/O.

AWS streams (Bedrock's ``converse-stream`` among them) answer ``application/vnd.amazon.eventstream``:
a sequence of self-delimiting binary messages, each laid out as

    total length   uint32 big-endian  the whole message, these 4 bytes and the final CRC included
    headers length uint32 big-endian
    prelude CRC    uint32 big-endian  CRC32 of the 8 bytes above
    headers        headers-length bytes: name length (1 byte), name (UTF-8), value type (1 byte), value
    payload        total - headers - 16 bytes
    message CRC    uint32 big-endian  CRC32 of everything before it

(AWS SDKs' "Event Stream Encoding"; botocore/eventstream.py, aws-c-event-stream).  Both CRCs are
checked: a bad prelude CRC means the lengths cannot be trusted, so nothing is read past it.  The
decoder holds at most one message, and refuses one whose prelude announces more than
``max_message_size`` bytes or headers past :data:`MAX_HEADERS_LENGTH`, before buffering it, so a
peer cannot make it hold without bound.  Like the SSE decoder (``sse.py``), any split of the input
gives the same messages.

A stream repeats a handful of header sections (Bedrock's differ only by ``:event-type``), so each
decoder keeps the few it has parsed, by their bytes: parsing them was most of the cost per message.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..errors import UpstreamProtocolError
from .sse import SSEEvent

__all__ = ["MAX_HEADERS_LENGTH", "EventStreamDecoder", "EventStreamEvents", "EventStreamMessage", "HeaderValue"]

PRELUDE_LENGTH = 12
MESSAGE_OVERHEAD = PRELUDE_LENGTH + 4  # the prelude and the message CRC
# The largest headers section AWS's own decoders accept (botocore: _MAX_HEADERS_LENGTH).
MAX_HEADERS_LENGTH = 128 * 1024
DEFAULT_MAX_MESSAGE_SIZE = 24 * 1024 * 1024 + MAX_HEADERS_LENGTH + MESSAGE_OVERHEAD
_HEADER_CACHE_SIZE = 32  # distinct header sections kept per decoder (a stream uses a handful)

HeaderValue = bool | int | bytes | str | uuid.UUID


@dataclass(frozen=True, slots=True)
class EventStreamMessage:
    """One decoded message: its headers (``:message-type``, ``:event-type``, ...) and raw payload.

    A ``timestamp`` header is an ``int`` of milliseconds since the epoch, as on the wire.  The
    headers are read-only: messages with the same header bytes share them.
    """

    headers: Mapping[str, HeaderValue]
    payload: bytes

    def header(self, name: str) -> str:
        """A string header's value, or ``""`` when it is absent or of another type."""
        value = self.headers.get(name)
        return value if isinstance(value, str) else ""


class EventStreamDecoder:
    """Turns chunks of an event stream into :class:`EventStreamMessage` values.

    After an error the decoder is unusable (the framing is lost); :meth:`close` says whether the
    input ended inside a message (:attr:`truncated`).
    """

    __slots__ = ("_buf", "_failed", "_headers", "_max", "_truncated")

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._headers: dict[bytes, Mapping[str, HeaderValue]] = {}  # parsed header sections by their bytes
        self._max = max_message_size
        self._failed = False
        self._truncated = False

    @property
    def truncated(self) -> bool:
        """True when :meth:`close` found part of a message that never completed."""
        return self._truncated

    def feed(self, chunk: bytes) -> list[EventStreamMessage]:
        """Decode one chunk; returns the messages it completed (often none)."""
        if self._failed:
            raise RuntimeError("EventStreamDecoder.feed() called after an error")
        buf = self._buf
        buf += chunk
        messages: list[EventStreamMessage] = []
        start = 0
        try:
            while len(buf) - start >= PRELUDE_LENGTH:
                total = self._check_prelude(buf, start)
                if len(buf) - start < total:
                    break
                messages.append(self._message(bytes(buf[start:start + total])))
                start += total
        except UpstreamProtocolError:
            self._failed = True
            raise
        finally:
            del buf[:start]
        return messages

    def close(self) -> list[EventStreamMessage]:
        """The input ended: nothing more comes out; :attr:`truncated` if bytes were left over."""
        self._truncated = bool(self._buf)
        self._buf = bytearray()
        self._failed = True
        return []

    def _check_prelude(self, buf: bytearray, start: int) -> int:
        total, headers_length, prelude_crc = struct.unpack_from(">III", buf, start)
        if zlib.crc32(buf[start:start + 8]) != prelude_crc:
            raise UpstreamProtocolError("the upstream's event stream is corrupt: a message's prelude CRC "
                                        "does not match (its lengths cannot be trusted)")
        if headers_length > MAX_HEADERS_LENGTH:
            raise UpstreamProtocolError(f"the upstream sent an event-stream message with {headers_length} bytes "
                                        f"of headers (at most {MAX_HEADERS_LENGTH})")
        if total > self._max:
            raise UpstreamProtocolError(f"the upstream sent an event-stream message of {total} bytes "
                                        f"(at most {self._max}: limits.max_event_bytes)")
        if total < MESSAGE_OVERHEAD + headers_length:
            raise UpstreamProtocolError(f"the upstream sent an event-stream message whose length ({total}) "
                                        f"cannot hold its {headers_length} bytes of headers")
        return int(total)


    def _message(self, frame: bytes) -> EventStreamMessage:
        total = len(frame)
        (crc,) = struct.unpack_from(">I", frame, total - 4)
        if zlib.crc32(frame[:total - 4]) != crc:
            raise UpstreamProtocolError("the upstream's event stream is corrupt: a message's CRC does not match")
        (headers_length,) = struct.unpack_from(">I", frame, 4)
        headers_end = PRELUDE_LENGTH + headers_length
        raw = frame[PRELUDE_LENGTH:headers_end]
        headers = self._headers.get(raw)
        if headers is None:
            headers = MappingProxyType(_headers(raw))
            if len(self._headers) >= _HEADER_CACHE_SIZE:
                self._headers.clear()
            self._headers[raw] = headers
        return EventStreamMessage(headers, frame[headers_end:total - 4])


# Value types (the encoding's 0-9): the struct format of the fixed-size ones.
_FIXED = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


def _headers(data: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    at, end = 0, len(data)
    try:
        while at < end:
            name_length = data[at]
            name = data[at + 1:at + 1 + name_length].decode("utf-8")
            at += 1 + name_length
            kind = data[at]
            at += 1
            value, at = _value(data, at, kind)
            if at > end:
                raise IndexError
            if name in headers:  # AWS's decoders refuse it too: which value would be meant?
                raise UpstreamProtocolError(f"the upstream sent an event-stream message with two {name!r} headers")
            headers[name] = value
    except (IndexError, struct.error):
        raise UpstreamProtocolError("the upstream sent an event-stream message whose headers run past "
                                    "their length") from None
    except UnicodeDecodeError:
        raise UpstreamProtocolError("the upstream sent an event-stream header that is not UTF-8") from None
    return headers


def _value(data: bytes, at: int, kind: int) -> tuple[Any, int]:
    if kind == 0:
        return True, at
    if kind == 1:
        return False, at
    if kind in _FIXED:
        fmt = _FIXED[kind]
        return struct.unpack_from(fmt, data, at)[0], at + struct.calcsize(fmt)
    if kind in (6, 7):
        (length,) = struct.unpack_from(">H", data, at)
        raw = data[at + 2:at + 2 + length]
        if len(raw) < length:
            raise IndexError
        return (raw if kind == 6 else raw.decode("utf-8")), at + 2 + length
    if kind == 9:
        raw = data[at:at + 16]
        if len(raw) < 16:
            raise IndexError
        return uuid.UUID(bytes=raw), at + 16
    raise UpstreamProtocolError(f"the upstream sent an event-stream header of unknown type {kind}")


class EventStreamEvents:
    """An event stream read as the events a translator takes: one :class:`SSEEvent` per message.

    AWS marks each message with ``:message-type``: an ``event`` becomes ``SSEEvent(data=<its JSON
    payload>, event=<its :event-type>)``; an ``exception`` (a modelled error inside a 200 stream,
    named by ``:exception-type``) becomes ``event="exception:<type>"``; an ``error`` (an unmodelled
    one: ``:error-code`` and ``:error-message`` headers) becomes ``event="error:<code>"`` with the
    message as its data.  So a translator tells them apart by ``event`` alone, as it does for SSE.
    """

    __slots__ = ("_decoder",)

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._decoder = EventStreamDecoder(max_message_size)

    @property
    def truncated(self) -> bool:
        return self._decoder.truncated

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        return [_as_event(m) for m in self._decoder.feed(chunk)]

    def close(self) -> list[SSEEvent]:
        return [_as_event(m) for m in self._decoder.close()]


def _as_event(message: EventStreamMessage) -> SSEEvent:
    kind = message.header(":message-type")
    if kind == "error":
        code = message.header(":error-code") or "unknown"
        return SSEEvent(data=message.header(":error-message") or code, event=f"error:{code}")
    try:
        data = message.payload.decode("utf-8") or "{}"
    except UnicodeDecodeError:
        raise UpstreamProtocolError("the upstream sent an event-stream payload that is not UTF-8") from None
    if kind == "exception":
        return SSEEvent(data=data, event=f"exception:{message.header(':exception-type') or 'unknown'}")
    return SSEEvent(data=data, event=message.header(":event-type"))
