"""The plain reading of a recorded Responses API stream, and what the translator must make of it.

What the recording carries is read here plainly and independently of the translator (the
reference SSE reading of tests/support/harness.py, then the event types of FORMATS.md section 3).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from ...support.agui_check import text_of, tool_calls_of
from ...support.harness import parsed_args, provider, run_events, sse_payloads


def expected(path: Path) -> dict[str, Any]:
    """Text, reasoning per reasoning item, tool calls, encrypted values, error and end of a recording."""
    text: list[str] = []
    # reasoning item id -> {(kind, part index): text}; items and parts in order of first delta
    reasoning: dict[str, dict[tuple[str, int], str]] = defaultdict(lambda: defaultdict(str))
    calls: dict[str, dict[str, Any]] = {}
    encrypted: list[str] = []
    out: dict[str, Any] = {"error": None, "usage": None, "status": None}
    for _, payload in sse_payloads(path):
        if payload == "[DONE]":
            break
        kind = payload["type"]
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            text.append(payload["delta"])
        elif kind == "response.reasoning_summary_text.delta":
            reasoning[payload["item_id"]][("summary", payload["summary_index"])] += payload["delta"]
        elif kind == "response.reasoning_text.delta":
            reasoning[payload["item_id"]][("text", payload["content_index"])] += payload["delta"]
        elif kind == "response.output_item.added" and payload["item"]["type"] == "function_call":
            item = payload["item"]
            calls[item["id"]] = {"id": item["call_id"], "name": item["name"], "args": ""}
        elif kind == "response.function_call_arguments.delta":
            calls[payload["item_id"]]["args"] += payload["delta"]
        elif kind == "response.output_item.done" and payload["item"]["type"] == "reasoning":
            if payload["item"].get("encrypted_content"):
                encrypted.append(payload["item"]["encrypted_content"])
        elif kind == "error":
            out["error"] = payload["error"]
            break
        elif kind in ("response.completed", "response.incomplete"):
            out["usage"], out["status"] = payload["response"]["usage"], payload["response"]["status"]
            break
    out["text"] = "".join(text)
    out["reasoning"] = ["\n\n".join(parts.values()) for parts in reasoning.values()]
    out["calls"] = [(c["id"], c["name"], parsed_args(c["args"])) for c in calls.values()]
    out["encrypted"] = encrypted
    return out


def reasoning_messages(events: list[dict[str, Any]]) -> list[str]:
    """The text of each reasoning message, in order."""
    texts: dict[str, str] = {}
    for e in events:
        if e["type"] == "REASONING_MESSAGE_START":
            texts[e["messageId"]] = ""
        elif e["type"] == "REASONING_MESSAGE_CONTENT":
            texts[e["messageId"]] += e["delta"]
    return [t for t in texts.values() if t]


def check_content(path: Path) -> None:
    events = run_events(provider("openai-responses"), path.read_bytes())
    want = expected(path)
    assert text_of(events) == want["text"]
    assert reasoning_messages(events) == want["reasoning"]
    got_calls = [(cid, name, parsed_args(args)) for cid, name, args in tool_calls_of(events)]
    assert got_calls == want["calls"]
    assert [e["encryptedValue"] for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"] == want["encrypted"]
    last = events[-1]
    if want["error"] is not None:
        assert last["type"] == "RUN_ERROR" and last["code"] == "upstream_error"
        assert want["error"]["message"] in last["message"] and want["error"]["code"] in last["message"]
        return
    assert last["type"] == "RUN_FINISHED", last
    usage = want["usage"]
    assert last["usage"] == [{
        "provider": "openai", "model": last["usage"][0]["model"],
        "inputTokens": usage["input_tokens"], "outputTokens": usage["output_tokens"],
        "totalTokens": usage["total_tokens"],
        "reasoningTokens": usage["output_tokens_details"]["reasoning_tokens"],
        "cachedInputTokens": usage["input_tokens_details"]["cached_tokens"],
    }]
    assert last["result"] == {"stopReason": "tool_use" if want["calls"] else "end_turn",
                              "providerStopReason": want["status"]}


def check_without_reasoning(path: Path) -> None:
    """The route option that drops reasoning leaves text and tool calls exactly as they were."""
    with_reasoning = run_events(provider("openai-responses"), path.read_bytes())
    without = run_events(provider("openai-responses"), path.read_bytes(), reasoning=False)
    assert not [e for e in without if e["type"].startswith("REASONING")]
    assert text_of(without) == text_of(with_reasoning)
    assert [c[1:] for c in tool_calls_of(without)] == [c[1:] for c in tool_calls_of(with_reasoning)]
    assert without[-1]["type"] == with_reasoning[-1]["type"]
