"""The plain reading of a recorded Chat Completions stream (OpenAI and the compatible servers),
and what the translator must make of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...support.agui_check import reasoning_of, text_of, tool_calls_of
from ...support.harness import parsed_args, provider, run_events, sse_payloads


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


def check_content(path: Path) -> None:
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


def recorded_end(path: Path) -> dict[str, Any]:
    """The last usage object, choice 0's finish reason and the reasoning_details signatures, read plainly."""
    usage, finish, signatures, refused = None, None, [], False
    for name, payload in sse_payloads(path):
        if payload == "[DONE]" or name == "error" or payload.get("error"):
            break
        if isinstance(payload.get("usage"), dict):
            usage = payload["usage"]
        for choice in payload.get("choices") or []:
            if choice.get("index", 0) == 0:
                finish = choice.get("finish_reason") or finish
                refused = refused or bool((choice.get("delta") or {}).get("refusal"))
                for detail in (choice.get("delta") or {}).get("reasoning_details") or []:
                    if detail.get("signature"):
                        signatures.append(detail["signature"])
    return {"usage": usage, "finish": finish, "signatures": signatures, "refused": refused}


def check_usage_stop_reason_and_signatures(path: Path) -> None:
    """Usage wherever it rides (its own chunk, the finish chunk, a chunk after it), the finish reason
    as ``result``, and OpenRouter's reasoning signatures as REASONING_ENCRYPTED_VALUE."""
    events = run_events(provider("openai-chat"), path.read_bytes())
    want = recorded_end(path)
    assert [e["encryptedValue"] for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"] == want["signatures"]
    last = events[-1]
    if last["type"] == "RUN_ERROR":
        return
    if want["usage"] is None:
        assert "usage" not in last
    else:
        usage = last["usage"][0]
        assert (usage["inputTokens"], usage["outputTokens"]) == (want["usage"]["prompt_tokens"],
                                                                 want["usage"]["completion_tokens"])
        assert usage["totalTokens"] == want["usage"]["prompt_tokens"] + want["usage"]["completion_tokens"]
    if want["finish"] is None:
        assert "result" not in last  # no finish_reason ever came (openrouter-kimi-tool-call-repeated-id)
    else:
        # A refusal ends with finish_reason "stop" (FORMATS.md section 1); the result names it.
        assert last["result"]["providerStopReason"] == ("refusal" if want["refused"] else want["finish"])
