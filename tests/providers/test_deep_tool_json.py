"""Tool arguments and results that are JSON nested past the parser (a client's string fields may
hold anything): kept as text in the provider's request, never a 500 from a RecursionError."""

from __future__ import annotations

import json

import pytest

from ..support.harness import built_request

DEEP = "[" * 5000 + "]" * 5000  # valid JSON, nested far past json.loads' recursion limit


def body() -> dict[str, object]:
    return {"params": {"messages": [
        {"role": "user", "content": "Call the tool."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": DEEP}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": DEEP},
    ]}}


def test_anthropic_keeps_deep_arguments_as_text() -> None:
    sent = json.loads(built_request("anthropic", body()).body)
    (tool_use,) = [b for m in sent["messages"] for b in m["content"] if isinstance(b, dict) and b["type"] == "tool_use"]
    assert tool_use["input"] == {"invalid_arguments": DEEP}


@pytest.mark.parametrize("field", ["functionCall", "functionResponse"])
def test_gemini_keeps_deep_arguments_and_results_as_text(field: str) -> None:
    sent = json.loads(built_request("gemini", body()).body)
    (part,) = [p for c in sent["contents"] for p in c["parts"] if field in p]
    if field == "functionCall":
        assert part[field]["args"] == {"invalid_arguments": DEEP}
    else:
        assert part[field]["response"] == {"output": DEEP}
