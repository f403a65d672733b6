"""Gemini's ``streamGenerateContent?alt=sse`` stream into a run (FORMATS.md section 5, "Stream").

Every event is a whole ``GenerateContentResponse`` holding only the new parts; there is no end
marker, the body just ends.  Parts of candidate 0, in order:

- ``{"text"}``: answer text; with ``"thought": true`` it is reasoning (a thought summary);
- ``thoughtSignature`` beside any part: opaque, to be sent back.  On a ``functionCall`` part it
  belongs to that call (``REASONING_ENCRYPTED_VALUE`` subtype ``tool-call``); on a text part it
  belongs to the reasoning before it (subtype ``message``);
- ``{"functionCall": {"name", "args", "id"?}}``: a whole call, START, one ARGS, END (an id is made
  when the part has none); several of them are parallel calls;
- Gemini 3's streamed arguments: ``{"functionCall": {"name", "willContinue": true}}``, then
  ``partialArgs`` fragments, then ``{"functionCall": {}}`` (see :mod:`.gemini_args`);
- ``executableCode``: code Gemini runs itself (the code execution tool), a tool call
  ``code_execution`` (arguments: language and code) where the run shows provider tools; the
  ``codeExecutionResult`` after it (outcome and output) is its ``TOOL_CALL_RESULT``;
- ``inlineData``, ``fileData``: not shown.

A candidate's ``groundingMetadata`` (Google Search grounding) names the sources
(``groundingChunks``: ``web`` or ``retrievedContext``, each a uri and a title) and which text each
supports (``groundingSupports``: a segment, its offsets in bytes of the UTF-8 text): citations of
the text message, each chunk once per segment it supports, offsets converted to UTF-16 units.

``finishReason`` says why it stopped (``STOP`` even after tool calls); safety reasons and a
``promptFeedback.blockReason`` end the run with ``content_filtered``.  ``usageMetadata`` rides on
every event and the last one counts.  A body that ends with no ``finishReason`` was cut off.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.events import Citation, TokenUsage
from ..core.offsets import utf8_to_utf16
from ..core.provider_tools import provider_tool_value
from ..core.run import END_TURN, MAX_TOKENS, TOOL_USE, RunBuilder
from ..core.sse import SSEEvent
from ..errors import ContentFiltered
from .base import count, error_text, parse_json_event
from .gemini_args import PartialArgsWriter
from .translator_base import TranslatorBase, token_usage

_STOP_REASONS = {"STOP": END_TURN, "MAX_TOKENS": MAX_TOKENS}
# finishReason values meaning a filter (safety, copyright, blocklist, PII) stopped the response.
_FILTERED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
                       "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"})


class GeminiTranslator(TranslatorBase):
    """Every event has the same shape, so there is no table of event kinds to dispatch on."""

    end_marker = "a finishReason"

    def __init__(self, run: RunBuilder, *, model: str) -> None:
        super().__init__(run, model=model)
        self._usage: dict[str, Any] = {}
        self._finish_reason: str | None = None
        self._calls = 0  # tool calls so far; call n is the run's key n
        self._streamed: int | None = None  # the call whose arguments arrive as partialArgs
        self._args = PartialArgsWriter()
        self._code_calls = 0
        self._code_call: str | None = None  # the code execution call a result answers
        self._grounded: set[tuple[Any, ...]] = set()  # citations made (grounding repeats on later events)

    def feed(self, event: SSEEvent) -> None:
        payload = parse_json_event(event)
        if payload.get("error") is not None:
            # {"error": {"code": 500, "message": "...", "status": "INTERNAL"}}
            self.reported_error(error_text(payload))
        self.saw_model(payload.get("modelVersion"))
        usage = payload.get("usageMetadata")
        if isinstance(usage, dict) and ("promptTokenCount" in usage or "totalTokenCount" in usage):
            self._usage = usage  # repeated on every event; the last one with counts is final
        feedback = payload.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            # A blocked prompt: one event, no candidates.
            raise ContentFiltered(f"the provider blocked the prompt (blockReason {feedback['blockReason']})")
        for candidate in payload.get("candidates") or ():
            if isinstance(candidate, dict) and candidate.get("index", 0) == 0:  # a chat UI shows one answer
                self._candidate(candidate)

    def close(self, truncated: bool) -> None:
        if self._run.ended:
            return
        raw = self._finish_reason
        if raw is None:  # no end marker: a body that ends before a finishReason was cut off
            super().close(truncated)  # raises, the run not having ended
            return
        self._end_streamed_call()
        # Gemini says STOP after tool calls too; the shared vocabulary says why the turn ended.
        stop = TOOL_USE if raw == "STOP" and self._calls else _STOP_REASONS.get(raw)
        self._run.finish(stop_reason=stop, provider_stop_reason=raw, usage=gemini_usage(self._usage, self._model))

    def _candidate(self, candidate: dict[str, Any]) -> None:
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, dict):
                self._part(part)
        grounding = candidate.get("groundingMetadata")
        if isinstance(grounding, dict) and grounding.get("groundingChunks"):
            self._grounding(grounding)
        reason = candidate.get("finishReason")
        if isinstance(reason, str) and reason:
            if reason in _FILTERED:
                raise ContentFiltered(f"the provider's safety filter stopped the response (finishReason {reason})")
            self._finish_reason = reason

    def _part(self, part: dict[str, Any]) -> None:
        signature = part.get("thoughtSignature", part.get("thought_signature"))
        signature = signature if isinstance(signature, str) else ""
        call = part.get("functionCall", part.get("function_call"))
        if isinstance(call, dict):
            self._function_call(call, signature)
            return
        if isinstance(part.get("executableCode"), dict):
            self._code(part["executableCode"])
            return
        if isinstance(part.get("codeExecutionResult"), dict):
            result = {k: v for k, v in part["codeExecutionResult"].items() if k in ("outcome", "output")}
            self._run.tool_result(self._code_call, json.dumps(result, ensure_ascii=False))
            self._code_call = None
            return
        text = part.get("text")
        if not isinstance(text, str):
            return
        if part.get("thought") is True:
            self._run.reasoning(text)
            self._run.reasoning_signature(signature)
        else:
            # The signature of the thinking that led to this text: it goes with that reasoning,
            # which is still open when the text starts.
            self._run.reasoning_signature(signature)
            self._run.text(text)

    def _function_call(self, call: dict[str, Any], signature: str) -> None:
        run = self._run
        name = call.get("name")
        if isinstance(name, str) and name:
            self._end_streamed_call()
            self._calls += 1
            key = self._calls
            call_id = call.get("id")
            run.tool_start(key, call_id if isinstance(call_id, str) and call_id else None, name)
            run.tool_signature(key, signature)
            if call.get("willContinue") is not True:  # a whole call in one part
                args = call.get("args")
                if isinstance(args, dict):
                    run.tool_args(key, json.dumps(args, ensure_ascii=False))
                run.tool_end(key)  # a call without args gets {}
                return
            self._streamed, self._args = key, PartialArgsWriter()
        if self._streamed is None:
            return  # argument fragments with no streamed call open: nothing to attach them to
        for fragment in call.get("partialArgs") or ():
            run.tool_args(self._streamed, self._args.feed(fragment))
        if call.get("willContinue") is not True:  # {"functionCall": {}} ends the call
            self._end_streamed_call()

    def _code(self, code: dict[str, Any]) -> None:
        self._end_streamed_call()
        self._code_calls += 1
        key = ("code", self._code_calls)
        self._code_call = self._run.provider_tool_start(key, None, "code_execution")
        arguments = {k: v for k, v in code.items() if k in ("language", "code")}
        self._run.tool_args(key, json.dumps(arguments, ensure_ascii=False))
        self._run.tool_signature(key, provider_tool_value("gemini"))  # not a function call to send back
        self._run.tool_end(key)

    def _grounding(self, grounding: dict[str, Any]) -> None:
        chunks = [_source(c) for c in grounding["groundingChunks"]] if isinstance(grounding["groundingChunks"],
                                                                                   list) else []
        supported: set[int] = set()
        for support in grounding.get("groundingSupports") or ():
            segment = support.get("segment") if isinstance(support, dict) else None
            if not isinstance(segment, dict):
                continue
            start, end = segment.get("startIndex", 0), segment.get("endIndex")  # 0 is left out (proto3 JSON)
            text = segment.get("text") if isinstance(segment.get("text"), str) else None
            for index in support.get("groundingChunkIndices") or ():
                if isinstance(index, int) and 0 <= index < len(chunks) and chunks[index] is not None:
                    supported.add(index)
                    span = (start, end) if isinstance(start, int) and isinstance(end, int) else None
                    self._cite(chunks[index], text, span)  # type: ignore[arg-type]
        for index, chunk in enumerate(chunks):
            if index not in supported and chunk is not None:
                self._cite(chunk, None, None)

    def _cite(self, source: tuple[str, str], text: str | None, span: tuple[int, int] | None) -> None:
        if (source, text, span) in self._grounded:
            return
        self._grounded.add((source, text, span))
        message = self._run.message_text()
        start, end = (utf8_to_utf16(message, span[0]), utf8_to_utf16(message, span[1])) if span else (None, None)
        self._run.citation(Citation(url=source[0], title=source[1], cited_text=text, start=start, end=end))

    def _end_streamed_call(self) -> None:
        if self._streamed is not None:
            key, self._streamed = self._streamed, None
            self._run.tool_args(key, self._args.close())
            self._run.tool_end(key)


def _source(chunk: Any) -> tuple[str, str] | None:
    """A grounding chunk's (uri, title): a web page, or a retrieved document (Vertex AI Search)."""
    if not isinstance(chunk, dict):
        return None
    for kind in ("web", "retrievedContext", "maps"):
        source = chunk.get(kind)
        if isinstance(source, dict) and isinstance(source.get("uri"), str) and source["uri"]:
            title = source.get("title")
            return source["uri"], title if isinstance(title, str) and title else source["uri"]
    return None


def gemini_usage(usage: dict[str, Any], model: str) -> TokenUsage | None:
    """Gemini's counts in AG-UI's accounting.

    ``thoughtsTokenCount`` is reported beside ``candidatesTokenCount``; AG-UI's ``outputTokens``
    counts every generated token with reasoning as a part of it, so they are added.  The prompt
    of a built-in tool (``toolUsePromptTokenCount``, e.g. search grounding) is input too;
    ``promptTokenCount`` already includes ``cachedContentTokenCount``.  The sums then agree with
    Gemini's own ``totalTokenCount``.
    """
    if not usage:
        return None
    prompt, tool_prompt = count(usage.get("promptTokenCount")), count(usage.get("toolUsePromptTokenCount"))
    answer, thoughts = count(usage.get("candidatesTokenCount")), count(usage.get("thoughtsTokenCount"))
    return token_usage(
        "gemini", model,
        input_tokens=None if prompt is None and tool_prompt is None else (prompt or 0) + (tool_prompt or 0),
        output_tokens=None if answer is None and thoughts is None else (answer or 0) + (thoughts or 0),
        reported_total=count(usage.get("totalTokenCount")),
        reasoning_tokens=thoughts,
        cached_input_tokens=count(usage.get("cachedContentTokenCount")),
    )
