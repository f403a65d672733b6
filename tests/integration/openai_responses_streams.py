"""Small Responses API transcripts for the integration tests (FORMATS.md section 3).

Shaped after the recordings in openai-responses/ (event names, field names, ``sequence_number``),
written out here so the integration tests need nothing outside the project.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from ..support.upstream import SSE_HEADERS, Chunk, End, Status, Step, sse_event

MODEL = "gpt-5"
SERVED_MODEL = "gpt-5-2025-08-07"
RESPONSE_ID = "resp_0123456789abcdef"

USAGE = {"input_tokens": 412, "input_tokens_details": {"cached_tokens": 256}, "output_tokens": 187,
         "output_tokens_details": {"reasoning_tokens": 128}, "total_tokens": 599}
EXPECTED_USAGE = [{"provider": "openai", "model": SERVED_MODEL, "inputTokens": 412, "outputTokens": 187,
                   "totalTokens": 599, "reasoningTokens": 128, "cachedInputTokens": 256}]


def response(status: str, *, usage: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": RESPONSE_ID, "object": "response", "created_at": 1763683200, "status": status, "error": None,
            "incomplete_details": None, "model": SERVED_MODEL, "output": [], "usage": usage, **extra}


def numbered(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``sequence_number`` on every event, as the API sends them since 2025."""
    return [{**e, "sequence_number": n} for n, e in zip(itertools.count(), events, strict=False)]


def wire(events: Iterable[dict[str, Any]], *, event_lines: bool = True) -> bytes:
    """The body: ``event: <type>`` + ``data:`` per event (OpenAI), or data lines only (OpenRouter)."""
    return b"".join(sse_event(e, e["type"] if event_lines else None) for e in events)


def responses_reply(events: Iterable[dict[str, Any]], *, write_size: int | None = None) -> list[Step]:
    """A 200 event stream of ``events``, one write per event or ``write_size``-byte writes."""
    events = list(events)
    body = wire(events)
    if write_size is None:
        writes = [Chunk(sse_event(e, e["type"])) for e in events]
    else:
        writes = [Chunk(body[i:i + write_size]) for i in range(0, len(body), write_size)]
    return [Status(200, SSE_HEADERS), *writes, End()]


def started() -> list[dict[str, Any]]:
    return [{"type": "response.created", "response": response("in_progress")},
            {"type": "response.in_progress", "response": response("in_progress")}]


def completed(usage: dict[str, Any] = USAGE) -> dict[str, Any]:
    return {"type": "response.completed", "response": response("completed", usage=usage)}


SUMMARY_PARTS = [["**Reading the request**\n\n", "The user wants the weather ", "and the time in Paris."],
                 ["**Planning the calls**\n\n", "Two tools, in parallel."]]
REASONING = "\n\n".join("".join(part) for part in SUMMARY_PARTS)
ENCRYPTED = "gAAAAABpRmFrZS1lbmNyeXB0ZWQtcmVhc29uaW5nLWNvbnRlbnQ="
TEXT_PIECES = ["Checking ", "both for you", " — un instant 🌤."]
TEXT = "".join(TEXT_PIECES)
CALLS = [("fc_weather01", "call_W3ath3r", "get_weather", ['{"city":', '"Paris",', '"unit":"celsius"}']),
         ("fc_time0002", "call_T1me", "get_time", ['{"tz":', '"Europe/Paris"}'])]


def reasoning_item(index: int = 0, item_id: str = "rs_01") -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"type": "response.output_item.added", "output_index": index, "item": {
        "id": item_id, "type": "reasoning", "encrypted_content": "gAAAAAB-early", "summary": []}}]
    for k, deltas in enumerate(SUMMARY_PARTS):
        where = {"item_id": item_id, "output_index": index, "summary_index": k}
        events.append({"type": "response.reasoning_summary_part.added", **where,
                       "part": {"type": "summary_text", "text": ""}})
        events += [{"type": "response.reasoning_summary_text.delta", **where, "delta": d, "obfuscation": "Zx"}
                   for d in deltas]
        events.append({"type": "response.reasoning_summary_text.done", **where, "text": "".join(deltas)})
        events.append({"type": "response.reasoning_summary_part.done", **where,
                       "part": {"type": "summary_text", "text": "".join(deltas)}})
    events.append({"type": "response.output_item.done", "output_index": index, "item": {
        "id": item_id, "type": "reasoning", "encrypted_content": ENCRYPTED,
        "summary": [{"type": "summary_text", "text": "".join(d)} for d in SUMMARY_PARTS]}})
    return events


def message_item(index: int, pieces: list[str], item_id: str = "msg_01") -> list[dict[str, Any]]:
    where = {"item_id": item_id, "output_index": index, "content_index": 0}
    return [
        {"type": "response.output_item.added", "output_index": index,
         "item": {"id": item_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}},
        {"type": "response.content_part.added", **where,
         "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}},
        *({"type": "response.output_text.delta", **where, "delta": p, "logprobs": []} for p in pieces),
        {"type": "response.output_text.done", **where, "text": "".join(pieces), "logprobs": []},
    ]


def parallel_calls(first_index: int) -> list[dict[str, Any]]:
    """Two function calls whose argument deltas interleave."""
    events: list[dict[str, Any]] = []
    for n, (item_id, call_id, name, _) in enumerate(CALLS):
        events.append({"type": "response.output_item.added", "output_index": first_index + n, "item": {
            "id": item_id, "type": "function_call", "status": "in_progress", "arguments": "", "call_id": call_id,
            "name": name}})
    for round_ in itertools.zip_longest(*(deltas for *_, deltas in CALLS)):
        for n, delta in enumerate(round_):
            if delta is not None:
                events.append({"type": "response.function_call_arguments.delta", "item_id": CALLS[n][0],
                               "output_index": first_index + n, "delta": delta})
    for n, (item_id, call_id, name, deltas) in enumerate(CALLS):
        arguments = "".join(deltas)
        events.append({"type": "response.function_call_arguments.done", "item_id": item_id,
                       "output_index": first_index + n, "arguments": arguments})
        events.append({"type": "response.output_item.done", "output_index": first_index + n, "item": {
            "id": item_id, "type": "function_call", "status": "completed", "arguments": arguments,
            "call_id": call_id, "name": name}})
    return events


def full_transcript() -> list[dict[str, Any]]:
    """Reasoning (two summary parts), text, then two parallel calls, then the usage."""
    return numbered([*started(), *reasoning_item(0), *message_item(1, TEXT_PIECES), *parallel_calls(2), completed()])
