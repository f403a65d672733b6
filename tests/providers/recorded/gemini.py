"""The plain reading of a recorded Gemini stream, and what the translator must make of it."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from ...support.agui_check import reasoning_of, text_of, tool_calls_of
from ...support.harness import provider, run_events, sse_payloads


def set_at(root: dict[str, Any], path: str, value: Any, append: bool) -> None:
    """Put ``value`` at a ``$.a.b[0]`` path inside ``root``; strings are appended when asked."""
    steps: list[Any] = [int(i) if i else k for k, i in re.findall(r"\.(\w+)|\[(\d+)\]", path)]
    node: Any = root
    for step, after in itertools.pairwise(steps):
        if isinstance(node, list):
            node.extend([None] * (step + 1 - len(node)))
            if node[step] is None:
                node[step] = [] if isinstance(after, int) else {}
        else:
            node.setdefault(step, [] if isinstance(after, int) else {})
        node = node[step]
    last = steps[-1]
    if isinstance(node, list):
        node.extend([None] * (last + 1 - len(node)))
        current = node[last]
    else:
        current = node.get(last)
    node[last] = current + value if append and isinstance(current, str) else value


def expected(path: Path) -> dict[str, Any]:
    """What the recording carries, read plainly (FORMATS.md section 5): candidate 0's parts."""
    text, reasoning, signatures, calls = [], [], [], []
    streaming: dict[str, Any] | None = None
    finish, usage = None, None
    for _, payload in sse_payloads(path):
        if "promptTokenCount" in payload.get("usageMetadata", {}):
            usage = payload["usageMetadata"]
        for candidate in payload.get("candidates", []):
            for part in candidate.get("content", {}).get("parts", []):
                call = part.get("functionCall")
                if call is not None:
                    if "thoughtSignature" in part:
                        signatures.append(("tool-call", part["thoughtSignature"]))
                    if "name" in call:
                        entry = {"name": call["name"], "args": call.get("args", {}), "id": call.get("id")}
                        calls.append(entry)
                        streaming = entry if call.get("willContinue") else None
                        continue
                    if streaming is not None:
                        for fragment in call.get("partialArgs", []):
                            value = next(fragment[k] for k in ("stringValue", "numberValue", "boolValue")
                                         if k in fragment)
                            set_at(streaming["args"], fragment["jsonPath"], value, "stringValue" in fragment)
                        if not call.get("willContinue"):
                            streaming = None
                elif part.get("thought"):
                    reasoning.append(part["text"])
                    if "thoughtSignature" in part:
                        signatures.append(("message", part["thoughtSignature"]))
                elif "text" in part:
                    if "thoughtSignature" in part:
                        signatures.append(("message", part["thoughtSignature"]))
                    text.append(part["text"])
            finish = candidate.get("finishReason", finish)
    return {"text": "".join(text), "reasoning": "".join(reasoning), "signatures": signatures, "calls": calls,
            "finish": finish, "usage": usage}


def check_content(path: Path) -> None:
    events = run_events(provider("gemini"), path.read_bytes())
    want = expected(path)
    assert text_of(events) == want["text"]
    assert reasoning_of(events) == want["reasoning"]
    got = tool_calls_of(events)
    assert [(name, json.loads(args)) for _, name, args in got] == [(c["name"], c["args"]) for c in want["calls"]]
    for (call_id, _, _), call in zip(got, want["calls"], strict=True):
        if call["id"]:  # kept when the part has one; made up otherwise
            assert call_id == call["id"]
    assert len({call_id for call_id, _, _ in got}) == len(got), "tool-call ids must be unique"
    encrypted = [e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]
    assert [(e["subtype"], e["encryptedValue"]) for e in encrypted] == want["signatures"]
    starts = {e["toolCallId"]: i for i, e in enumerate(events) if e["type"] == "TOOL_CALL_START"}
    for e in encrypted:
        if e["subtype"] == "tool-call":  # names a call that is open at that point
            assert e["entityId"] in starts and starts[e["entityId"]] < events.index(e)
    last = events[-1]
    assert last["type"] == "RUN_FINISHED", last
    stop = "tool_use" if want["calls"] else {"STOP": "end_turn", "MAX_TOKENS": "max_tokens"}[want["finish"]]
    assert last["result"] == {"stopReason": stop, "providerStopReason": want["finish"]}
    usage = want["usage"]
    [reported] = last["usage"]
    output = usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
    assert reported["inputTokens"] == usage["promptTokenCount"] + usage.get("toolUsePromptTokenCount", 0)
    assert reported["outputTokens"] == output
    assert reported["totalTokens"] == usage["totalTokenCount"]  # AG-UI's sums agree with Gemini's total
    assert reported.get("reasoningTokens") == usage.get("thoughtsTokenCount")


def check_without_reasoning(path: Path) -> None:
    """Reasoning off: no reasoning text and no message signatures, but a tool call keeps its
    signature (Gemini 3 refuses a later turn without it)."""
    quiet = run_events(provider("gemini"), path.read_bytes(), reasoning=False)
    want = expected(path)
    assert text_of(quiet) == want["text"]
    assert not [e for e in quiet if e["type"].startswith("REASONING") and e["type"] != "REASONING_ENCRYPTED_VALUE"]
    assert [e["encryptedValue"] for e in quiet if e["type"] == "REASONING_ENCRYPTED_VALUE"] == [
        value for subtype, value in want["signatures"] if subtype == "tool-call"]
