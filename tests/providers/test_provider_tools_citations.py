"""Provider-run tools and citations through each provider's translator: the recordings that have
them (``../shared``) and the transcripts written from the documented events
(provider_tool_streams.py), whole, byte by byte and split at every offset (a sample for the long
recordings).

What each must give, read plainly from the stream's own JSON: the tool call (name, arguments),
its ``TOOL_CALL_RESULT`` (what the provider reported, without its encrypted parts) and the
opaque value that marks it, and the text message's ``metadata.citations``, whose ``start`` /
``end`` must cut the cited text out of the message as JavaScript slices a string (UTF-16 code
units).  A BranderUX run (no provider tools, citations off) gets none of it and the same text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from agui_proxy.core.provider_tools import MARK, read_provider_tool_value

from ..support.agui_check import text_of, tool_calls_of
from ..support.harness import assert_split_invariant, provider, run_events, sse_payloads
from ..support.recordings import recorded_file
from . import provider_tool_streams as streams

ANTHROPIC = "anthropic/server-tool-web-search-citations.sse"
GEMINI = "gemini/grounding-web-search.sse"


def recorded(relative: str) -> Callable[[], bytes]:
    """The recording's bytes, read when a test runs (skipped with the reason when absent)."""
    return lambda: recorded_file(relative).read_bytes()


# (id, provider, the stream's bytes)
STREAMS_WITH_TOOLS_OR_CITATIONS = [
    ("anthropic/server-tool-web-search-citations", "anthropic", recorded(ANTHROPIC)),
    ("gemini/grounding-web-search", "gemini", recorded(GEMINI)),
    ("responses-web-search-citations", "openai-responses", streams.responses_web_search),
    ("chat-annotations", "openai-chat", streams.chat_annotations),
    ("chat-url-list", "openai-chat", streams.chat_url_list),
    ("gemini-code-execution", "gemini", streams.gemini_code_execution),
]
CASES = [pytest.param(name, data, id=case) for case, name, data in STREAMS_WITH_TOOLS_OR_CITATIONS]


def js_slice(text: str, start: int, end: int) -> str:
    """``text.slice(start, end)`` as JavaScript does it: in UTF-16 code units."""
    units = text.encode("utf-16-le", "surrogatepass")
    return units[2 * start:2 * end].decode("utf-16-le", "surrogatepass")


def citations_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for e in events if e["type"] == "TEXT_MESSAGE_END"
            for c in (e.get("metadata") or {}).get("citations", [])]


def message_texts(events: list[dict[str, Any]]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for event in events:
        if event["type"] == "TEXT_MESSAGE_CONTENT":
            texts[event["messageId"]] = texts.get(event["messageId"], "") + event["delta"]
    return texts


def results_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["toolCallId"]: json.loads(e["content"]) for e in events if e["type"] == "TOOL_CALL_RESULT"}


def marks_of(events: list[dict[str, Any]]) -> dict[str, str]:
    """The last opaque value on each tool call (the client keeps the last one)."""
    return {e["entityId"]: e["encryptedValue"] for e in events
            if e["type"] == "REASONING_ENCRYPTED_VALUE" and e["subtype"] == "tool-call"}


@pytest.mark.parametrize(("name", "data"), CASES)
def test_same_events_for_every_split(name: str, data: Callable[[], bytes]) -> None:
    assert_split_invariant(provider(name), data())


@pytest.mark.parametrize(("name", "data"), CASES)
def test_citation_spans_cut_their_text_out(name: str, data: Callable[[], bytes]) -> None:
    events = run_events(provider(name), data())
    texts = message_texts(events)
    for end in (e for e in events if e["type"] == "TEXT_MESSAGE_END" and e.get("metadata")):
        text = texts[end["messageId"]]
        for citation in end["metadata"]["citations"]:
            assert set(citation) <= {"url", "fileId", "title", "citedText", "start", "end"}, citation
            assert ("url" in citation) != ("fileId" in citation) and citation["title"], citation
            if "start" in citation:
                assert 0 <= citation["start"] <= citation["end"] <= len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(("name", "data"), CASES)
def test_a_branderux_run_gets_the_text_alone(name: str, data: Callable[[], bytes]) -> None:
    shown = run_events(provider(name), data())
    quiet = run_events(provider(name), data(), citations=False, provider_tools=False)
    assert text_of(quiet) == text_of(shown)
    assert not [e for e in quiet if e["type"] == "TOOL_CALL_RESULT" or e.get("metadata")]
    assert not [e for e in quiet if e["type"] == "REASONING_ENCRYPTED_VALUE" and MARK in e["encryptedValue"]]
    assert tool_calls_of(quiet) == []


def test_anthropic_web_search_and_its_citations() -> None:
    data = recorded(ANTHROPIC)()
    blocks: dict[int, dict[str, Any]] = {}
    for _, payload in sse_payloads(recorded_file(ANTHROPIC)):
        if payload.get("type") == "content_block_start":
            blocks[payload["index"]] = {**payload["content_block"], "deltas": []}
        elif payload.get("type") == "content_block_delta":
            blocks[payload["index"]]["deltas"].append(payload["delta"])
    (call,) = [b for b in blocks.values() if b["type"] == "server_tool_use"]
    (result,) = [b for b in blocks.values() if b["type"] == "web_search_tool_result"]
    events = run_events(provider("anthropic"), data)
    arguments = "".join(d["partial_json"] for d in call["deltas"])
    assert tool_calls_of(events) == [(call["id"], "web_search", arguments)]
    shown = results_of(events)[call["id"]]
    assert [r["url"] for r in shown] == [r["url"] for r in result["content"]]
    assert all("encrypted_content" not in r and r["title"] for r in shown)
    assert read_provider_tool_value(marks_of(events)[call["id"]]) == ("anthropic", [
        {k: v for k, v in result.items() if k != "deltas"}])
    # Each cited block's sources span exactly that block's text.
    (text,) = message_texts(events).values()
    want = []
    for block in (b for b in blocks.values() if b["type"] == "text" and "citations" in b):
        block_text = "".join(d["text"] for d in block["deltas"] if d["type"] == "text_delta")
        for cited in (d["citation"] for d in block["deltas"] if d["type"] == "citations_delta"):
            want.append((cited["url"], cited["title"], cited["cited_text"], block_text))
    got = [(c["url"], c["title"], c["citedText"], js_slice(text, c["start"], c["end"])) for c in citations_of(events)]
    assert got == want and len(want) == 5


def test_gemini_grounding_supports_become_citations() -> None:
    events = run_events(provider("gemini"), recorded(GEMINI)())
    (text,) = message_texts(events).values()
    grounding = [p["candidates"][0]["groundingMetadata"] for _, p in sse_payloads(recorded_file(GEMINI))
                 if p["candidates"][0].get("groundingMetadata", {}).get("groundingChunks")][-1]
    chunks = grounding["groundingChunks"]
    want = [(chunks[i]["web"]["uri"], chunks[i]["web"]["title"], s["segment"]["text"], s["segment"]["text"])
            for s in grounding["groundingSupports"] for i in s["groundingChunkIndices"]]
    got = [(c["url"], c["title"], c["citedText"], js_slice(text, c["start"], c["end"])) for c in citations_of(events)]
    assert got == want
    assert tool_calls_of(events) == []  # grounding is not a call the client sees


def test_responses_web_and_file_search() -> None:
    events = run_events(provider("openai-responses"), streams.responses_web_search())
    calls = {cid: (name, json.loads(args)) for cid, name, args in tool_calls_of(events)}
    assert calls == {streams.WS_ID: ("web_search", {"action": {"type": "search", "query": "Paris weather today"}}),
                     streams.FS_ID: ("file_search", {"queries": ["Paris weather notes"]})}
    results = results_of(events)
    assert results[streams.WS_ID]["status"] == "completed"
    assert results[streams.WS_ID]["action"]["sources"] == streams.SEARCH_SOURCES
    assert results[streams.FS_ID]["results"][0]["file_id"] == streams.FILE_CITED[0]
    assert {cid: read_provider_tool_value(v) for cid, v in marks_of(events).items()} == {
        streams.WS_ID: ("openai", []), streams.FS_ID: ("openai", [])}
    (text,) = message_texts(events).values()
    assert text == streams.RESPONSES_TEXT
    *urls, file = citations_of(events)
    assert [(c["url"], c["title"], js_slice(text, c["start"], c["end"])) for c in urls] == streams.RESPONSES_CITED
    assert file == {"fileId": streams.FILE_CITED[0], "title": streams.FILE_CITED[1]}
    assert events[-1]["result"]["stopReason"] == "end_turn"  # a provider's own tools end no turn


def test_chat_annotations_and_url_lists() -> None:
    events = run_events(provider("openai-chat"), streams.chat_annotations())
    (text,) = message_texts(events).values()
    got = [(c["url"], c["title"], js_slice(text, c["start"], c["end"])) for c in citations_of(events)]
    assert got == streams.CHAT_CITED
    listed = run_events(provider("openai-chat"), streams.chat_url_list())
    assert citations_of(listed) == [{"url": url, "title": url} for url in streams.URL_LIST]  # once each


def test_gemini_code_execution() -> None:
    events = run_events(provider("gemini"), streams.gemini_code_execution())
    ((call_id, name, args),) = tool_calls_of(events)
    assert (name, json.loads(args)) == ("code_execution", {"language": "PYTHON", "code": streams.GEMINI_CODE})
    assert results_of(events) == {call_id: {"outcome": "OUTCOME_OK", "output": streams.GEMINI_OUTPUT}}
    assert read_provider_tool_value(marks_of(events)[call_id]) == ("gemini", [])
    assert list(message_texts(events).values()) == ["Let me compute it.", streams.GEMINI_ANSWER]
    kinds = [e["type"] for e in events]
    assert kinds.index("TOOL_CALL_RESULT") < kinds.index("TEXT_MESSAGE_START", kinds.index("TOOL_CALL_END"))
