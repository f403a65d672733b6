"""Every recorded Chat Completions stream (OpenAI and the compatible servers) through the translator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..agui_check import parse_frames, reasoning_of, text_of, tool_calls_of
from ..harness import assert_split_invariant, parsed_args, provider, run_events, sse_payloads
from ..recordings import recording_params

RECORDINGS = recording_params("openai-chat", "openai-compatible")


def expected(path: Path) -> dict[str, Any]:
    """What the recording carries, read plainly: choice 0's text, reasoning and tool calls."""
    text, reasoning, error = [], [], None
    calls: dict[int, dict[str, Any]] = {}
    for name, payload in sse_payloads(path):
        if payload == "[DONE]":
            break
        if name == "error" or payload.get("error"):
            error = payload["error"]
            break
        for choice in payload.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            text.append(delta.get("refusal") or "")
            reasoning.append(delta.get("reasoning_content") or delta.get("reasoning") or "")
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call.get("index", 0), {"id": call.get("id"), "name": None, "args": ""})
                fn = call.get("function") or {}
                slot["name"] = slot["name"] or fn.get("name")
                slot["args"] += fn.get("arguments") or ""
    return {"text": "".join(text), "reasoning": "".join(reasoning), "error": error,
            "calls": [(c["id"], c["name"], parsed_args(c["args"])) for _, c in sorted(calls.items())]}


@pytest.mark.parametrize("path", RECORDINGS)
def test_recording_translates_to_exact_content(path: Path) -> None:
    events = run_events(provider("openai-chat"), path.read_bytes())
    want = expected(path)
    assert text_of(events) == want["text"]
    assert reasoning_of(events) == want["reasoning"]
    got_calls = [(cid, name, parsed_args(args)) for cid, name, args in tool_calls_of(events)]
    assert got_calls == want["calls"]
    if want["error"] is not None:
        assert events[-1]["type"] == "RUN_ERROR"
        assert events[-1]["code"] == "upstream_error"
        assert want["error"]["message"] in events[-1]["message"]
    else:
        assert events[-1]["type"] == "RUN_FINISHED", events[-1]


@pytest.mark.parametrize("path", RECORDINGS)
def test_recording_same_events_for_every_split(path: Path) -> None:
    whole = assert_split_invariant(provider("openai-chat"), path.read_bytes())
    events, done = parse_frames(whole)
    assert done and events[0]["type"] == "RUN_STARTED"


def test_empty_data_events_are_ignored_as_keep_alives() -> None:
    from ..agui_check import parse_frames as frames
    from ..harness import run_bytes

    body = (b'data:\n\ndata: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata:\n\n'
            b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    events, done = frames(run_bytes(provider("openai-chat"), [body]))
    assert done and text_of(events) == "hi" and events[-1]["type"] == "RUN_FINISHED"
