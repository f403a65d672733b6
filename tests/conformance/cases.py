"""The cases the official client runs, and what each must end with.

Every recorded provider stream is a case, for the provider its folder speaks.  What the client
must assemble is what the proxy's own sans-I/O core makes of the same bytes (``tests/support/harness``,
with the same provider), which each provider's recording tests already hold to the recording:
its answer text, its tool calls (name and arguments), its reasoning, and whether it ends in
``RUN_FINISHED`` or ``RUN_ERROR``.  The manifest beside the recordings says which streams carry
an in-band provider error; those must end in ``RUN_ERROR``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agui_proxy.providers import PROVIDERS, Provider

from ..support.agui_check import assert_valid_run, parse_frames, reasoning_of, tool_calls_of
from ..support.harness import provider, run_bytes
from ..support.recordings import STREAMS, recording_paths

# Recording folder -> the provider name that speaks its format (config ``provider:``).
FOLDER_PROVIDERS = {
    "openai-chat": "openai-chat",
    "openai-compatible": "openai-chat",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "openai-responses": "openai-responses",
}


@dataclass(frozen=True)
class Recording:
    path: Path
    provider: str

    @property
    def id(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"


def recording_params() -> list[Any]:
    """One ``pytest.param`` per recording; skipped (naming the provider) when it is not registered."""
    paths = recording_paths()
    if not paths:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"the shared provider recordings are not at "
                                                                  f"{STREAMS} (set AGUI_PROXY_SHARED)"),
                             id="no-recordings")]
    params = []
    for path in paths:
        name = FOLDER_PROVIDERS[path.parent.name]
        recording = Recording(path, name)
        marks = [] if name in PROVIDERS else [pytest.mark.skip(
            reason=f"provider {name!r} (for {path.parent.name}/) is not registered in agui_proxy.providers.PROVIDERS")]
        params.append(pytest.param(recording, id=recording.id, marks=marks))
    return params


def registered_recordings() -> list[Recording]:
    return [p.values[0] for p in recording_params() if p.values[0] is not None and not p.marks]


def in_stream_errors() -> set[str]:
    """``folder/name`` of the recordings the manifest marks as carrying an in-band provider error."""
    manifest = STREAMS / "manifest.json"
    if not manifest.exists():
        return set()
    entries = json.loads(manifest.read_text("utf-8"))["files"]
    return {entry["file"].removesuffix(".sse") for entry in entries if entry.get("has_in_stream_error")}


@dataclass(frozen=True)
class Outcome:
    """A run as the client sees it: its event types, texts, tool calls, reasoning and end."""

    types: list[str]
    texts: list[str]
    tool_calls: list[tuple[str, str]]  # (name, arguments JSON text)
    reasoning: list[str]
    error_code: str | None
    # Per assistant text message, in order: its metadata.citations (None: none).
    citations: list[Any] | None = None
    # What provider-run tools returned (content), in order (their ids: the live run may draw its own).
    results: list[str] | None = None


def expected_outcome(recording: Recording) -> Outcome:
    """What the proxy's core makes of the recording (ids aside: the live run draws its own)."""
    return outcome_of(provider(recording.provider), recording.path.read_bytes())


def expected_outcome_of(provider_name: str, data: bytes) -> Outcome:
    """What the proxy's core makes of a provider's stream, as an AG-UI client gets it."""
    return outcome_of(provider(provider_name), data)


def outcome_of(prov: Provider, data: bytes) -> Outcome:
    """What the proxy's core makes of an upstream body ``data`` read by ``prov``."""
    body = run_bytes(prov, [data])
    events, _ = parse_frames(body)
    assert_valid_run(events)
    texts: dict[str, str] = {}
    for event in events:
        if event["type"] == "TEXT_MESSAGE_CONTENT":
            texts[event["messageId"]] = texts.get(event["messageId"], "") + event["delta"]
    reasoning: dict[str, str] = {}
    for event in events:
        # The client makes a reasoning message at its START: one that only carries an encrypted
        # value (a signature, redacted thinking) is a message with empty content.
        if event["type"] == "REASONING_MESSAGE_START":
            reasoning[event["messageId"]] = ""
        elif event["type"] == "REASONING_MESSAGE_CONTENT":
            reasoning[event["messageId"]] = reasoning.get(event["messageId"], "") + event["delta"]
    assert reasoning_of(events) == "".join(reasoning.values())
    last = events[-1]
    return Outcome(
        types=[e["type"] for e in events],
        texts=list(texts.values()),
        tool_calls=[(name, args) for _, name, args in tool_calls_of(events)],
        reasoning=list(reasoning.values()),
        error_code=last["code"] if last["type"] == "RUN_ERROR" else None,
        citations=[(e.get("metadata") or {}).get("citations") for e in events if e["type"] == "TEXT_MESSAGE_END"],
        results=[e["content"] for e in events if e["type"] == "TOOL_CALL_RESULT"],
    )


def client_outcome(result: dict[str, Any]) -> Outcome:
    """The same view of what the official client received and assembled."""
    messages = result["newMessages"] or []
    last = result["events"][-1] if result["events"] else {}
    return Outcome(
        types=[e["type"] for e in result["events"]],
        texts=[m["content"] for m in messages if m["role"] == "assistant" and m.get("content")],
        tool_calls=[(c["function"]["name"], c["function"]["arguments"])
                    for m in messages if m["role"] == "assistant" for c in m.get("toolCalls") or ()],
        reasoning=[m["content"] for m in messages if m["role"] == "reasoning"],
        error_code=last.get("code") if last.get("type") == "RUN_ERROR" else None,
        citations=[(m.get("metadata") or {}).get("citations") for m in messages
                   if m["role"] == "assistant" and m.get("content")],
        results=[m["content"] for m in messages if m["role"] == "tool"],
    )
