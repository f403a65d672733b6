"""The plain reading of a recorded Anthropic Messages stream, and what the translator must make of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...support.agui_check import reasoning_of, text_of, tool_calls_of
from ...support.harness import provider, run_events, sse_payloads


def expected(path: Path) -> dict[str, Any]:
    """What the recording carries, read plainly from its events (FORMATS.md section 4)."""
    text, reasoning, signatures = [], [], []
    blocks: dict[int, dict[str, Any]] = {}
    calls: list[dict[str, Any]] = []
    error, stop_reason, usage = None, None, {}
    for name, payload in sse_payloads(path):
        kind = payload.get("type")
        if name == "error" or kind == "error":
            error = payload["error"]
            break
        if kind == "message_start":
            usage.update(payload["message"]["usage"])
        elif kind == "content_block_start":
            block = blocks[payload["index"]] = dict(payload["content_block"])
            if block["type"] == "tool_use":
                block["args"] = ""
                calls.append(block)
            elif block["type"] == "redacted_thinking":
                signatures.append(block["data"])
        elif kind == "content_block_delta":
            delta, block = payload["delta"], blocks[payload["index"]]
            if delta["type"] == "text_delta":
                text.append(delta["text"])
            elif delta["type"] == "thinking_delta":
                reasoning.append(delta["thinking"])
            elif delta["type"] == "signature_delta":
                signatures.append(delta["signature"])
            elif delta["type"] == "input_json_delta" and block["type"] == "tool_use":
                block["args"] += delta["partial_json"]
        elif kind == "message_delta":
            stop_reason = payload["delta"]["stop_reason"]
            usage.update({k: v for k, v in payload.get("usage", {}).items() if v is not None})
    return {"text": "".join(text), "reasoning": "".join(reasoning), "signatures": signatures, "error": error,
            "calls": [(c["id"], c["name"], _args(c["args"])) for c in calls], "stop_reason": stop_reason,
            "usage": usage}


def _args(text: str) -> Any:
    """Parsed arguments; a call cut off mid-JSON (max_tokens) is compared as the raw text."""
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text


def check_content(path: Path) -> None:
    events = run_events(provider("anthropic"), path.read_bytes())
    want = expected(path)
    assert text_of(events) == want["text"]
    assert reasoning_of(events) == want["reasoning"]
    assert [(cid, name, _args(args)) for cid, name, args in tool_calls_of(events)] == want["calls"]
    encrypted = [e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]
    assert [e["encryptedValue"] for e in encrypted] == want["signatures"]
    assert all(e["subtype"] == "message" for e in encrypted)
    last = events[-1]
    if want["error"] is not None:
        assert last["type"] == "RUN_ERROR"
        assert last["code"] == "upstream_error"
        assert want["error"]["message"] in last["message"] and want["error"]["type"] in last["message"]
        return
    assert last["type"] == "RUN_FINISHED", last
    mapped = {"end_turn": "end_turn", "tool_use": "tool_use", "max_tokens": "max_tokens"}[want["stop_reason"]]
    assert last["result"] == {"stopReason": mapped, "providerStopReason": want["stop_reason"]}
    usage = want["usage"]
    input_tokens = (usage["input_tokens"] + usage.get("cache_read_input_tokens", 0)
                    + usage.get("cache_creation_input_tokens", 0))
    [reported] = last["usage"]
    assert reported["provider"] == "anthropic"
    assert reported["inputTokens"] == input_tokens
    assert reported["outputTokens"] == usage["output_tokens"]
    assert reported["totalTokens"] == input_tokens + usage["output_tokens"]


def check_without_reasoning(path: Path) -> None:
    """The route option that drops reasoning leaves text and tool calls as they were."""
    quiet = run_events(provider("anthropic"), path.read_bytes(), reasoning=False)
    assert not [e for e in quiet if e["type"].startswith("REASONING")]
    assert text_of(quiet) == expected(path)["text"]
