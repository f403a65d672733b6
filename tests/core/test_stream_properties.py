"""The whole sans-I/O pipeline under hostile upstream bytes, and holding early failures back.

- Properties: whatever bytes an upstream sends, split however, the decoder gives the same events
  or the same protocol error, and the run stream never raises and always ends the run with a
  sequence the official client accepts (``RUN_FINISHED`` or ``RUN_ERROR``, then the terminator).
- ``hold_early_failure``: a failure before any output is kept back for a retry or a fallback
  (the client sees nothing of that try); after output it ends the run as usual.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agui_proxy.core.encoder import EventEncoder
from agui_proxy.core.pipeline import RunPipeline
from agui_proxy.core.run import RunBuilder
from agui_proxy.core.sse import SSEDecoder, SSEEvent
from agui_proxy.errors import UpstreamProtocolError, UpstreamReportedError

from ..support.agui_check import assert_valid_run, parse_frames, text_of
from ..support.harness import counter_ids, provider
from .test_sse import split_at

OPENAI = provider("openai-chat")


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


ERROR = b'data: {"error": {"message": "Overloaded", "type": "server_error"}}\n\n'


def new_stream(*, hold: bool = False, cap: int = 1 << 20) -> RunPipeline:
    run = RunBuilder("thread_1", "run_1", id_factory=counter_ids())
    return RunPipeline(run, OPENAI.translator, EventEncoder(clock=lambda: 1_700_000_000.0), done_frame=True,
                     max_event_size=cap, hold_early_failure=hold)


def run_through(chunks: list[bytes], *, cap: int = 1 << 20) -> bytes:
    stream = new_stream(cap=cap)
    out = [stream.start()]
    for piece in chunks:
        out.append(stream.feed(piece))
    out.append(stream.close())
    assert stream.ended
    return b"".join(out)


# -- properties --------------------------------------------------------------------------------------

_pieces = st.sampled_from([
    b"data: ", b"data:", b"event: error\n", b": comment\n", b"\n", b"\r\n", b"\r", b"[DONE]", b"{", b"}",
    b'{"choices":[{"index":0,"delta":{"content":"h\xc3\xa9"}}]}', b'{"choices":[{"delta":{"tool_calls":[{"index":0,'
    b'"id":"c","function":{"name":"f","arguments":"{\\"a"}}]}}]}', b'{"choices":[{"index":0,"finish_reason":"stop"}]}',
    b'{"error":{"message":"x"}}', b'"str"', b"null", b"\xf0\x9f\x98", b"\x80", b"\xff", b"\xef\xbb\xbf",
])
_upstream_bytes = st.one_of(st.binary(max_size=300), st.lists(_pieces, max_size=40).map(b"".join))
_settings = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(_upstream_bytes, st.data(), st.sampled_from([1 << 20, 16, 64]))
def test_property_decoder_any_split_same_events_or_same_error(raw: bytes, data: st.DataObject, cap: int) -> None:
    def decode(chunks: list[bytes]) -> tuple[list[SSEEvent], bool] | str:
        decoder = SSEDecoder(cap)
        events: list[SSEEvent] = []
        try:
            for piece in chunks:
                events += decoder.feed(piece)
            events += decoder.close()
        except UpstreamProtocolError:
            return "protocol error"
        return events, decoder.truncated

    whole = decode([raw])
    offsets = data.draw(st.lists(st.integers(0, len(raw)), max_size=10))
    assert decode(split_at(raw, offsets)) == whole
    assert decode([raw[i:i + 1] for i in range(len(raw))]) == whole


@_settings
@given(_upstream_bytes, st.data(), st.sampled_from([1 << 20, 1024]))
def test_property_any_upstream_bytes_end_the_run_properly(raw: bytes, data: st.DataObject, cap: int) -> None:
    """No exception escapes the core, the run always ends, every split gives the same bytes."""
    whole = run_through([raw], cap=cap)
    events, done = parse_frames(whole)
    assert done
    assert_valid_run(events)
    offsets = data.draw(st.lists(st.integers(0, len(raw)), max_size=10))
    assert run_through(split_at(raw, offsets), cap=cap) == whole


# -- holding early failures back ---------------------------------------------------------------------


def test_error_before_any_output_is_held() -> None:
    stream = new_stream(hold=True)
    assert b"RUN_STARTED" in stream.start()
    assert stream.feed(chunk({"role": "assistant", "content": ""})) == b""
    assert stream.feed(ERROR) == b""
    assert isinstance(stream.early_failure, UpstreamReportedError)
    assert not stream.ended and not stream.output_started
    assert stream.feed(chunk({"content": "late"})) == b""  # nothing more is read from that try
    assert stream.close() == b""


def test_truncation_before_any_output_is_held() -> None:
    stream = new_stream(hold=True)
    stream.start()
    assert stream.feed(chunk({"role": "assistant"})) == b""
    assert stream.close() == b""
    assert stream.early_failure is not None and stream.early_failure.code == "upstream_truncated"


def test_a_held_failure_can_still_end_the_run() -> None:
    """When no retry or fallback is left, the shell ends the run with the held error."""
    stream = new_stream(hold=True)
    start = stream.start()
    stream.feed(ERROR)
    assert stream.early_failure is not None
    events, done = parse_frames(start + stream.fail(stream.early_failure))
    assert done
    assert_valid_run(events)
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
    assert events[-1]["message"] == "upstream reported an error: Overloaded (server_error)"


def test_error_after_output_ends_the_run_even_when_holding() -> None:
    stream = new_stream(hold=True)
    out = stream.start() + stream.feed(chunk({"content": "Bonjour"}))
    assert stream.output_started
    out += stream.feed(ERROR)
    assert stream.early_failure is None and stream.ended
    events, done = parse_frames(out)
    assert done
    assert_valid_run(events)
    assert text_of(events) == "Bonjour"
    assert events[-1]["code"] == "upstream_error"


def test_text_and_error_in_one_chunk_is_not_held() -> None:
    """The text was produced before the error in the same chunk: the answer has begun."""
    stream = new_stream(hold=True)
    out = stream.start() + stream.feed(chunk({"content": "Hi"}) + ERROR)
    assert stream.early_failure is None and stream.ended
    events, _ = parse_frames(out)
    assert text_of(events) == "Hi" and events[-1]["type"] == "RUN_ERROR"


def test_without_holding_an_early_error_ends_the_run() -> None:
    stream = new_stream()
    out = stream.start() + stream.feed(ERROR)
    assert stream.early_failure is None and stream.ended
    assert [e["type"] for e in parse_frames(out)[0]] == ["RUN_STARTED", "RUN_ERROR"]
