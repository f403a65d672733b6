"""A body that ends before the provider's end marker is ``upstream_truncated``, wherever it ends.

A cut on an event boundary already was; a cut in the middle of an event (a partial ``data:``
line, no blank line after it) used to surface as ``upstream_protocol_error`` ("an event that is
not JSON"), a code clients do not retry on.  Every prefix of a recording either is a whole run
(the cut fell after the last event's JSON was complete) or ends with ``upstream_truncated``.
"""

from __future__ import annotations

import pytest

from ..support.agui_check import assert_valid_run, parse_frames
from ..support.harness import provider, run_bytes
from ..support.recordings import recorded_file, split_offsets

CASES = [
    ("openai-chat", "openai-chat/tool-call-single-include-usage.sse"),
    ("openai-chat", "openai-compatible/openrouter-reasoning-comments.sse"),
    ("openai-responses", "openai-responses/text-basic.sse"),
    ("anthropic", "anthropic/text-basic.sse"),
    ("gemini", "gemini/text-basic.sse"),
]


def _recording(relative: str) -> bytes:
    return recorded_file(relative).read_bytes()


@pytest.mark.parametrize(("name", "relative"), CASES, ids=[c[1] for c in CASES])
def test_every_cut_of_a_recording_is_a_truncation_or_a_whole_run(name: str, relative: str) -> None:
    data = _recording(relative)
    whole_runs = set()
    for offset in split_offsets(len(data) - 1, every_up_to=4096, sample=300):
        events, done = parse_frames(run_bytes(provider(name), [data[:offset]]))
        assert done
        assert_valid_run(events)
        last = events[-1]
        if last["type"] == "RUN_FINISHED":
            whole_runs.add(offset)
            continue
        assert last["type"] == "RUN_ERROR", (offset, last)
        assert last["code"] == "upstream_truncated", (offset, data[max(0, offset - 60):offset], last)
    assert len(whole_runs) < len(data) // 4  # most prefixes are cut short (the check is not vacuous)


@pytest.mark.parametrize("tail", [b'data: {"choices": [{"delta": {"content": "Hel', b"data: {", b"data:",
                                  b'data: {"choices": []}\ndata: {"x'])
def test_a_partial_data_line_at_the_end_is_a_truncation(tail: bytes) -> None:
    head = b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n'
    events, _ = parse_frames(run_bytes(provider("openai-chat"), [head + tail]))
    assert_valid_run(events)
    assert [e["type"] for e in events][-2:] == ["TEXT_MESSAGE_END", "RUN_ERROR"]
    assert events[-1]["code"] == "upstream_truncated"


def test_a_whole_last_event_without_its_blank_line_still_counts() -> None:
    """Recorded streams end in a complete ``data:`` line with no newline (FORMATS.md section 0)."""
    body = b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}\n\ndata: [DONE]'
    events, _ = parse_frames(run_bytes(provider("openai-chat"), [body]))
    assert events[-1]["type"] == "RUN_FINISHED"


def test_a_complete_event_that_is_not_json_is_still_a_protocol_error() -> None:
    events, _ = parse_frames(run_bytes(provider("openai-chat"), [b"data: {oops\n\n"]))
    assert events[-1]["code"] == "upstream_protocol_error"
