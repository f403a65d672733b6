"""AWS event-stream messages built to the encoding's spec, for the decoder's tests and the
loopback Bedrock (a writer only the tests need; the proxy only ever reads the format).

Layout: total length, headers length (uint32 big-endian each), the CRC32 of those 8 bytes,
the headers, the payload, the CRC32 of everything before it.  A header is its name's length (one
byte), the name, a type byte and the value: 0/1 true/false (no value), 2 byte, 3 short, 4 int,
5 long, 6 bytes and 7 string (uint16 length first), 8 timestamp (int64 ms), 9 UUID (16 bytes).
"""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from typing import Any

Header = tuple[str, int, Any]  # name, type, value


def header_bytes(name: str, kind: int, value: Any) -> bytes:
    raw_name = name.encode()
    out = bytes([len(raw_name)]) + raw_name + bytes([kind])
    if kind in (0, 1):
        return out
    fixed = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}
    if kind in fixed:
        return out + struct.pack(fixed[kind], value)
    if kind in (6, 7):
        raw = value if kind == 6 else value.encode()
        return out + struct.pack(">H", len(raw)) + raw
    if kind == 9:
        return out + (value.bytes if isinstance(value, uuid.UUID) else bytes(value))
    raise ValueError(kind)


def message(headers: list[Header], payload: bytes) -> bytes:
    """One message, CRCs and all."""
    raw_headers = b"".join(header_bytes(*h) for h in headers)
    total = 16 + len(raw_headers) + len(payload)
    prelude = struct.pack(">II", total, len(raw_headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw_headers + payload
    return head + struct.pack(">I", zlib.crc32(head))


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    """An event as Bedrock sends it (``:message-type: event``, ``:event-type``, JSON payload)."""
    return message([(":event-type", 7, event_type), (":content-type", 7, "application/json"),
                    (":message-type", 7, "event")], json.dumps(payload).encode())


def exception(exception_type: str, text: str) -> bytes:
    """An in-stream exception (``:message-type: exception``, ``:exception-type``)."""
    return message([(":exception-type", 7, exception_type), (":content-type", 7, "application/json"),
                    (":message-type", 7, "exception")], json.dumps({"message": text}).encode())


# -- ConverseStream answers, as Bedrock sends them -----------------------------------------------


def converse(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(event(kind, payload) for kind, payload in events)


def text_block(index: int, *pieces: str) -> list[tuple[str, dict[str, Any]]]:
    return [*(("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": p}}) for p in pieces),
            ("contentBlockStop", {"contentBlockIndex": index})]


def tool_block(index: int, call_id: str, name: str, *fragments: str) -> list[tuple[str, dict[str, Any]]]:
    return [("contentBlockStart", {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": call_id,
                                                                                      "name": name}}}),
            *(("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": f}}})
              for f in fragments),
            ("contentBlockStop", {"contentBlockIndex": index})]


def reasoning_block(index: int, *pieces: str, signature: str = "", redacted: str = "",
                    ) -> list[tuple[str, dict[str, Any]]]:
    deltas: list[dict[str, Any]] = [{"text": p} for p in pieces]
    deltas += [{"signature": signature}] if signature else []
    deltas += [{"redactedContent": redacted}] if redacted else []
    return [*(("contentBlockDelta", {"contentBlockIndex": index, "delta": {"reasoningContent": d}})
              for d in deltas),
            ("contentBlockStop", {"contentBlockIndex": index})]


def start() -> tuple[str, dict[str, Any]]:
    return ("messageStart", {"role": "assistant"})


def stop(reason: str = "end_turn", **usage: int) -> list[tuple[str, dict[str, Any]]]:
    counts = {"inputTokens": 12, "outputTokens": 7, **usage}
    counts.setdefault("totalTokens", sum(counts.values()))
    return [("messageStop", {"stopReason": reason}),
            ("metadata", {"usage": counts, "metrics": {"latencyMs": 420}})]
