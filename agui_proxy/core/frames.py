"""SSE frames one by one, for resumable runs: the pipeline's output split into its frames, and a
frame with its ``id:`` line (WHATWG HTML, "Server-sent events": the ``id`` field sets the
stream's last event id, which a browser's EventSource, and the documented client (docs/examples/resumable-client.mjs),
send back as ``Last-Event-ID``).

Every frame the encoder writes ends with a blank line and holds none inside (its JSON is one
line), so ``\\n\\n`` splits them exactly.
"""

from __future__ import annotations

FRAME_END = b"\n\n"


def split_frames(data: bytes) -> list[bytes]:
    """The frames of ``data`` (whole frames, as the encoder wrote them), each with its blank line."""
    if not data:
        return []
    return [part + FRAME_END for part in data.split(FRAME_END)[:-1]]


def with_id(seq: int, frame: bytes) -> bytes:
    return b"id: %d\n%s" % (seq, frame)
