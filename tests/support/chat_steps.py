"""Chat Completions answers for the server-side tools' tests: a step that calls tools, a step
that answers in text, each with its usage (so a run's usage over its steps can be checked)."""

from __future__ import annotations

import json
from typing import Any

MODEL = "gpt-test"


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta or finish else []
    out: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL, "choices": choices}
    if usage is not None:
        out["usage"] = usage
    return out


def _usage(tokens: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "total_tokens": sum(tokens)}


def calls(*named: tuple[str, str, dict[str, Any]], tokens: tuple[int, int] = (10, 5)) -> list[dict[str, Any]]:
    """A step that calls tools: (id, name, arguments) each, then its usage."""
    out = [chunk({"role": "assistant", "content": None})]
    for index, (call_id, name, arguments) in enumerate(named):
        out.append(chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                          "function": {"name": name, "arguments": ""}}]}))
        out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": json.dumps(arguments)}}]}))
    out.append(chunk({}, "tool_calls"))
    out.append(chunk({}, usage=_usage(tokens)))
    return out


def text(words: str, tokens: tuple[int, int] = (20, 3)) -> list[dict[str, Any]]:
    """A step that answers ``words``, then its usage."""
    return [chunk({"role": "assistant", "content": words}), chunk({}, "stop"), chunk({}, usage=_usage(tokens))]
