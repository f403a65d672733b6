"""Anthropic's Messages stream into a run (FORMATS.md section 4, "Stream").

    message_start  (content_block_start, content_block_delta*, content_block_stop)*  message_delta  message_stop

with ``ping`` anywhere and ``error`` at any point instead.  Content blocks are numbered by
``index`` and follow one another:

- ``text``: ``text_delta`` is answer text; ``citations_delta`` names a source of the block's text
  (it comes before that text): at the block's stop each becomes a citation of the run's text
  message, spanning the block's text;
- ``tool_use``: a tool call; ``input_json_delta`` fragments concatenate to its arguments (a
  tool with no input sends only ``""``: the run gives it ``{}``);
- ``thinking``: ``thinking_delta`` is reasoning, then one ``signature_delta`` carries the
  signature the client must send back, as ``REASONING_ENCRYPTED_VALUE``;
- ``redacted_thinking``: no text, only opaque ``data``, sent as an encrypted value;
- ``server_tool_use`` (and ``mcp_tool_use``): a tool Anthropic runs itself (web search, web
  fetch, code execution), shown as a tool call where the run shows provider tools; its result
  block (``web_search_tool_result``, ``web_fetch_tool_result``, ``code_execution_tool_result``,
  any ``*_tool_result``) arrives whole and becomes the call's ``TOOL_CALL_RESULT`` (the block's
  content without its encrypted parts), the whole block riding on the call as its opaque value,
  which the client sends back and the next request puts back in the assistant turn;
- block types to come: not shown; the text around them passes through as usual.

A block cut off by ``max_tokens`` never gets its ``content_block_stop``
(text-then-tool-use-max-tokens-mid-json.sse): whatever is open is closed at ``message_delta``.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.events import Citation, TokenUsage
from ..core.provider_tools import provider_tool_value
from ..core.run import END_TURN, MAX_TOKENS, TOOL_USE, RunBuilder
from ..core.sse import SSEEvent
from ..errors import ContentFiltered
from .base import count, error_text, parse_json_event
from .translator_base import TranslatorBase, handles, token_usage

_STOP_REASONS = {
    "end_turn": END_TURN,
    "stop_sequence": END_TURN,  # a configured stop sequence: a normal end of the turn
    "tool_use": TOOL_USE,
    "max_tokens": MAX_TOKENS,
    "model_context_window_exceeded": MAX_TOKENS,  # cut off by the context window instead
}
# Anthropic's streaming classifiers stopped the response (a safety filter, not a model choice).
_FILTERED = "refusal"

# What an open content block is, for the deltas and the stop that follow its start.
_TEXT, _TOOL, _THINKING, _OTHER = "text", "tool", "thinking", "other"
_SERVER_CALLS = frozenset({"server_tool_use", "mcp_tool_use"})


class AnthropicTranslator(TranslatorBase):
    end_marker = "message_stop"

    def __init__(self, run: RunBuilder, *, model: str) -> None:
        super().__init__(run, model=model)
        self._blocks: dict[int, str] = {}  # open content blocks: index -> kind
        self._unsent_input: dict[int, dict[str, Any]] = {}  # a tool_use start that carried its input
        # A text block with citations: index -> (where its text starts in the message, its sources).
        self._cited: dict[int, tuple[int, list[dict[str, Any]]]] = {}
        self._server_calls: set[int] = set()  # open blocks that are calls Anthropic runs itself
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None

    def feed(self, event: SSEEvent) -> None:
        payload = parse_json_event(event)
        kind = payload.get("type") or event.event
        if kind == "error" or event.event == "error":
            # {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            self.reported_error(error_text(payload))
        self.dispatch(kind, payload)  # ping and event types to come have no handler

    # -- the message -------------------------------------------------------------------------

    @handles("message_start")
    def _message_start(self, payload: dict[str, Any]) -> None:
        message = payload.get("message")
        if isinstance(message, dict):
            self.saw_model(message.get("model"))
            self._add_usage(message.get("usage"))

    @handles("message_delta")
    def _message_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
            self._stop_reason = delta["stop_reason"]
        self._add_usage(payload.get("usage"))
        for index in list(self._blocks):
            self._close_block(index)
        if self._stop_reason == _FILTERED:
            raise ContentFiltered("the provider's safety filter stopped the response (stop_reason refusal)")

    @handles("message_stop")
    def _message_stop(self, payload: dict[str, Any]) -> None:
        raw = self._stop_reason
        self._run.finish(stop_reason=_STOP_REASONS.get(raw or ""), provider_stop_reason=raw,
                         usage=anthropic_usage(self._usage, self._model))

    def _add_usage(self, usage: Any) -> None:
        # message_start has the input counts; message_delta's usage is cumulative and, on newer
        # API versions, repeats them.  Later values win; nulls never erase a count.
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    # -- content blocks ----------------------------------------------------------------------

    @handles("content_block_start")
    def _block_start(self, payload: dict[str, Any]) -> None:
        index, block = payload.get("index"), payload.get("content_block")
        if not isinstance(index, int) or not isinstance(block, dict):
            return
        run = self._run
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _TEXT
            if "citations" in block:  # a block whose text has sources: its span starts here
                given = block["citations"] if isinstance(block["citations"], list) else []
                self._cited[index] = (run.text_offset(), [c for c in given if isinstance(c, dict)])
            run.text(_str(block.get("text")))
        elif kind == "tool_use" or kind in _SERVER_CALLS:
            call_id, name = _str(block.get("id")) or None, _str(block.get("name"))
            if kind == "tool_use":
                run.tool_start(index, call_id, name)
            elif run.provider_tool_start(index, call_id, name) is None:
                self._blocks[index] = _OTHER
                return
            else:
                self._server_calls.add(index)
            self._blocks[index] = _TOOL
            if isinstance(block.get("input"), dict) and block["input"]:
                self._unsent_input[index] = block["input"]
        elif kind == "thinking":
            self._blocks[index] = _THINKING
            run.reasoning(_str(block.get("thinking")))
            run.reasoning_signature(_str(block.get("signature")))
        elif kind == "redacted_thinking":
            self._blocks[index] = _THINKING
            run.reasoning_signature(_str(block.get("data")))
        else:
            self._blocks[index] = _OTHER
            if isinstance(kind, str) and kind.endswith("_tool_result"):
                self._tool_result(block)

    def _tool_result(self, block: dict[str, Any]) -> None:
        """A provider-run tool's result block, whole: readable for the client, whole for the provider."""
        readable = json.dumps(without_encrypted(block.get("content")), ensure_ascii=False)
        self._run.tool_result(_str(block.get("tool_use_id")), readable, provider_tool_value("anthropic", [block]))

    @handles("content_block_delta")
    def _block_delta(self, payload: dict[str, Any]) -> None:
        index, delta = payload.get("index"), payload.get("delta")
        if not isinstance(index, int) or not isinstance(delta, dict):
            return
        kind = delta.get("type")
        if kind == "text_delta":
            self._run.text(_str(delta.get("text")))
        elif kind == "input_json_delta":
            if self._blocks.get(index) == _TOOL:  # a server tool's input is not the client's call
                self._unsent_input.pop(index, None)
                self._run.tool_args(index, _str(delta.get("partial_json")))
        elif kind == "thinking_delta":
            self._run.reasoning(_str(delta.get("thinking")))
        elif kind == "signature_delta":
            self._run.reasoning_signature(_str(delta.get("signature")))
        elif kind == "citations_delta":
            citation = delta.get("citation")
            if isinstance(citation, dict):
                self._cited.setdefault(index, (self._run.text_offset(), []))[1].append(citation)
        # delta types to come: nothing to show

    @handles("content_block_stop")
    def _block_stop(self, payload: dict[str, Any]) -> None:
        index = payload.get("index")
        if isinstance(index, int):
            self._close_block(index)

    def _close_block(self, index: int) -> None:
        kind = self._blocks.pop(index, None)
        if kind == _TOOL:
            unsent = self._unsent_input.pop(index, None)
            if unsent is not None:
                self._run.tool_args(index, json.dumps(unsent, ensure_ascii=False))
            if index in self._server_calls:  # marked as Anthropic's own until its result replaces the mark
                self._server_calls.discard(index)
                self._run.tool_signature(index, provider_tool_value("anthropic"))
            self._run.tool_end(index)
        elif kind == _THINKING:
            self._run.end_reasoning()
        cited = self._cited.pop(index, None)
        if cited is not None:
            start, end = cited[0], self._run.text_offset()
            for citation in cited[1]:
                self._run.citation(anthropic_citation(citation, start, end))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def anthropic_citation(citation: dict[str, Any], start: int, end: int) -> Citation:
    """A ``citations_delta`` citation: web results have ``url``, search results ``source``,
    document locations (``char_location``, ``page_location``, ...) only their ``document_title``."""
    url = _str(citation.get("url")) or _str(citation.get("source")) or None
    title = _str(citation.get("title")) or _str(citation.get("document_title")) or url or ""
    return Citation(url=url, title=title, cited_text=_str(citation.get("cited_text")) or None,
                    start=start, end=end)


def without_encrypted(value: Any) -> Any:
    """``value`` without its ``encrypted_*`` keys: opaque to a person, sent back only to the provider."""
    if isinstance(value, dict):
        return {k: without_encrypted(v) for k, v in value.items() if not k.startswith("encrypted_")}
    if isinstance(value, list):
        return [without_encrypted(v) for v in value]
    return value


def anthropic_usage(usage: dict[str, Any], model: str) -> TokenUsage | None:
    """Anthropic's counts in AG-UI's accounting.

    Anthropic's ``input_tokens`` leaves out the tokens read from and written to the prompt
    cache; AG-UI's ``inputTokens`` counts every prompt token, with the cache counts as parts of
    it, so they are added in.  ``output_tokens`` already includes thinking.
    """
    if not usage:
        return None
    base = count(usage.get("input_tokens"))
    cache_read = count(usage.get("cache_read_input_tokens"))
    cache_write = count(usage.get("cache_creation_input_tokens"))
    details = usage.get("output_tokens_details")
    return token_usage(
        "anthropic", model,
        input_tokens=None if base is None else base + (cache_read or 0) + (cache_write or 0),
        output_tokens=count(usage.get("output_tokens")),
        reasoning_tokens=count(details.get("thinking_tokens")) if isinstance(details, dict) else None,
        cached_input_tokens=cache_read,
        cache_write_input_tokens=cache_write,
    )
