"""OpenAI Chat Completions, and every server that speaks it (FORMATS.md sections 1 and 2).

Request: ``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>``.
Stream: ``data: <chat.completion.chunk>`` events ending in ``data: [DONE]``.  The translator is
liberal in what it takes, because the compatible servers differ: reasoning arrives as
``reasoning_content`` (DeepSeek, vLLM, xAI, Z.ai) or ``reasoning`` (OpenRouter, Groq); tool-call
fragments are keyed by ``index`` but some servers repeat or omit it (then the ``id`` decides);
``finish_reason`` may never come; usage rides on its own chunk or on the finish chunk; errors
come as ``{"error": ...}`` chunks or a named ``event: error``.  Sources become citations of the
text message: ``delta.annotations`` (``url_citation``, OpenAI's search models and OpenRouter) and
a top-level ``citations`` list of bare URLs (Perplexity and other compatible servers).
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

from ..core.conversation import Conversation, ImagePart, Message, Part, ReasoningPart, TextPart, Tool, ToolChoice
from ..core.events import Citation, TokenUsage
from ..core.offsets import utf16_len
from ..core.run import END_TURN, MAX_TOKENS, TOOL_USE, RunBuilder
from ..core.sse import SSEEvent
from ..core.translator import Translator
from ..errors import ContentFiltered, InboundError
from .base import count, error_text, parse_json_event
from .http import HTTPProvider, UpstreamSettings, bearer_auth
from .translator_base import TranslatorBase, token_usage

# The keys of a delta that holds at most a text fragment: ChatTranslator._choice reads it
# without looking for reasoning, a refusal, tool calls or citations.
_PLAIN_DELTA = frozenset({"role", "content"})
_STOP_REASONS = {"stop": END_TURN, "tool_calls": TOOL_USE, "function_call": TOOL_USE, "length": MAX_TOKENS}


@dataclass(frozen=True, slots=True)
class ChatSettings(UpstreamSettings):
    """An openai-chat upstream's settings: the shared ones and the name of its token limit."""

    # OpenAI's reasoning models take only max_completion_tokens; most compatible servers only max_tokens.
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"


class OpenAIChat(HTTPProvider):
    name = "openai-chat"
    family = "openai"
    settings_class = ChatSettings

    def request_path(self) -> str:
        return "/chat/completions"

    def provider_headers(self) -> dict[str, str]:
        return bearer_auth(self.settings.api_key)

    def request_body(self, conversation: Conversation) -> dict[str, Any]:
        s = self.settings
        max_tokens_param = s.max_tokens_param if isinstance(s, ChatSettings) else "max_tokens"
        body: dict[str, Any] = {
            "model": s.model,
            "messages": chat_messages(conversation),
            "stream": True,
            "stream_options": {"include_usage": True},
            max_tokens_param: conversation.max_tokens,
        }
        tools = conversation.native_tools.get("openai") or [chat_tool(t) for t in conversation.tools]
        tools = [*tools, *(chat_tool(t) for t in conversation.server_tools)]
        if tools:
            body["tools"] = tools
            if conversation.tool_choice is not None:
                body["tool_choice"] = chat_tool_choice(conversation.tool_choice)
        return body

    def translator(self, run: RunBuilder) -> Translator:
        return ChatTranslator(run, model=self.settings.model)


def chat_tool(tool: Tool) -> dict[str, Any]:
    return {"type": "function",
            "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters}}


def chat_tool_choice(choice: ToolChoice) -> Any:
    if choice.type == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type]


def chat_messages(conversation: Conversation) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if conversation.system:
        out.append({"role": "system", "content": conversation.system})
    for message in conversation.messages:
        if message.role == "assistant" and not (message.content or message.tool_calls or message.reasoning):
            continue  # a turn of tools the provider ran (provider_calls) alone: nothing to send back
        out.append(_chat_message(message))
    return out


def _chat_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        if any(not isinstance(p, TextPart) for p in message.content):
            # Chat Completions tool messages take text parts only.
            raise InboundError(422, "unsupported_content", "a tool result with images or other media cannot be "
                               "sent to the Chat Completions API (it takes text results only)")
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    if message.role == "assistant":
        wire: dict[str, Any] = {"role": "assistant", "content": message.text or None}
        details = reasoning_details(message.reasoning)
        if details:
            wire["reasoning_details"] = details
        if message.tool_calls:
            wire["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
        return wire
    if all(isinstance(p, TextPart) for p in message.content):
        return {"role": "user", "content": message.text}
    return {"role": "user", "content": [_chat_part(part) for part in message.content]}


def reasoning_details(reasoning: list[ReasoningPart]) -> list[dict[str, Any]]:
    """OpenRouter's ``reasoning_details`` for an assistant turn, from its signed reasoning.

    OpenRouter asks for the details back on the assistant message, in order: a signed text as
    ``reasoning.text`` (``text`` + ``signature``), an opaque value with no text as
    ``reasoning.encrypted`` (``data``).  Unsigned reasoning is not sent: servers that stream a
    plain ``reasoning_content`` refuse it back (DeepSeek answers 400).
    """
    details: list[dict[str, Any]] = []
    for index, part in enumerate(r for r in reasoning if r.opaque):
        if part.text and part.signature:
            details.append({"type": "reasoning.text", "text": part.text, "signature": part.signature,
                            "index": index})
        else:
            details.append({"type": "reasoning.encrypted", "data": part.opaque, "index": index})
    return details


# The two audio encodings ``input_audio`` takes, by MIME type.
_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/mpeg": "mp3",
                  "audio/mp3": "mp3"}


def _chat_part(part: Part) -> dict[str, Any]:
    """One user content part in Chat Completions' shape; media it cannot take is refused (422)."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        url = part.url or f"data:{part.mime_type};base64,{part.data}"
        return {"type": "image_url", "image_url": {"url": url}}
    # input_audio takes base64 WAV or MP3 only; file takes inline bytes (file_data); there is no
    # video part and no media by URL (the API does not fetch them).
    audio_format = _AUDIO_FORMATS.get((part.mime_type or "").lower())
    if part.kind == "audio" and part.data and audio_format:
        return {"type": "input_audio", "input_audio": {"data": part.data, "format": audio_format}}
    if part.kind == "document" and part.data:
        return {"type": "file", "file": {"file_data": f"data:{part.mime_type};base64,{part.data}",
                                         "filename": part.filename or "document"}}
    what = f"{part.kind} ({part.mime_type or 'unknown type'}) by URL" if part.url else f"{part.kind} ({part.mime_type})"
    raise InboundError(422, "unsupported_content", f"the Chat Completions API cannot take a {what}: it takes "
                       "images, WAV or MP3 audio as data, and documents as data")


class ChatTranslator(TranslatorBase):
    """Chat Completions chunks into a run.  Only choice 0 is shown (a chat UI has one answer).

    Every chunk has the same shape, so there is no table of event kinds to dispatch on.
    """

    end_marker = "data: [DONE]"

    def __init__(self, run: RunBuilder, *, model: str) -> None:
        super().__init__(run, model=model)
        self._usage: TokenUsage | None = None
        self._finish_reason: str | None = None
        self._open_ids: dict[Hashable, str | None] = {}  # tool-call key -> provider id
        self._last_key: Hashable | None = None
        self._cited_urls: set[str] = set()  # a top-level citations list repeats on every chunk

    def feed(self, event: SSEEvent) -> None:
        if event.data == "[DONE]":
            self._finish()
            return
        chunk = parse_json_event(event)
        error = chunk.get("error")
        if error or event.event == "error":
            self.reported_error(error_text(chunk))
        self.saw_model(chunk.get("model"))
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = chat_usage(usage, self._model)
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice)
        urls = chunk.get("citations")
        if isinstance(urls, list):
            self._url_list(urls)

    def _url_list(self, urls: list[Any]) -> None:
        """The OpenAI-compatible top-level ``citations`` (Perplexity's): bare URLs, the URL its title."""
        for url in urls:
            if isinstance(url, str) and url and url not in self._cited_urls:
                self._cited_urls.add(url)
                self._run.citation(Citation(url=url, title=url))

    def _annotations(self, annotations: list[Any]) -> None:
        """``delta.annotations``: ``url_citation`` entries, their indexes in the message's characters."""
        for annotation in annotations:
            cited = annotation.get("url_citation") if isinstance(annotation, dict) else None
            if not isinstance(cited, dict) or not isinstance(cited.get("url"), str) or not cited["url"]:
                continue
            start, end = cited.get("start_index"), cited.get("end_index")
            span = None
            if isinstance(start, int) and isinstance(end, int):
                text = self._run.message_text()
                span = utf16_len(text[:start]), utf16_len(text[:end])
            title = cited.get("title") if isinstance(cited.get("title"), str) else None
            self._run.citation(Citation(url=cited["url"], title=title or cited["url"],
                                        start=span[0] if span else None, end=span[1] if span else None))

    def _choice(self, choice: dict[str, Any]) -> None:
        run = self._run
        delta = choice.get("delta")
        if isinstance(delta, dict):
            if delta.keys() <= _PLAIN_DELTA:
                # A text token, nearly every chunk of an answer: no other field to look for.
                content = delta.get("content")
                if isinstance(content, str):
                    run.text(content)
            else:
                self._delta(delta)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            if reason == "content_filter":
                raise ContentFiltered("the provider's content filter stopped the response")
            if self._finish_reason != "refusal":
                self._finish_reason = reason
            for key in list(self._open_ids):
                run.tool_end(key)
            self._open_ids.clear()

    def _delta(self, delta: dict[str, Any]) -> None:
        """A delta with more than a role and a text fragment: reasoning, a refusal, tool calls, citations."""
        run = self._run
        reasoning = delta.get("reasoning_content")
        if not isinstance(reasoning, str) or not reasoning:
            reasoning = delta.get("reasoning")
        if not isinstance(reasoning, str) or not reasoning:
            reasoning = _details_text(delta.get("reasoning_details"))
        if reasoning:
            run.reasoning(reasoning)
        for value in _details_encrypted(delta.get("reasoning_details")):
            run.reasoning_signature(value)
        content = delta.get("content")
        if isinstance(content, str):
            run.text(content)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            # A refusal is what the model says instead of an answer: show it as the answer.
            run.text(refusal)
            self._finish_reason = "refusal"
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                if isinstance(call, dict):
                    self._tool_fragment(call)
        annotations = delta.get("annotations")
        if isinstance(annotations, list):
            self._annotations(annotations)

    def _tool_fragment(self, call: dict[str, Any]) -> None:
        index = call.get("index")
        call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        fn: dict[str, Any] = call["function"] if isinstance(call.get("function"), dict) else {}
        key: Hashable
        if isinstance(index, int) and not isinstance(index, bool):
            key = index
        elif call_id is not None:
            key = ("id", call_id)
        else:
            key = self._last_key if self._last_key is not None else 0
        known = key in self._open_ids
        # A new id under an open key is a new call (servers that reuse index 0 for each call).
        if not known or (call_id is not None and self._open_ids[key] not in (None, call_id)):
            name: str = fn["name"] if isinstance(fn.get("name"), str) else ""
            self._run.tool_start(key, call_id, name)
            self._open_ids[key] = call_id
        self._last_key = key
        arguments = fn.get("arguments")
        if isinstance(arguments, str):
            self._run.tool_args(key, arguments)
        elif isinstance(arguments, dict):  # some servers send the arguments as an object
            self._run.tool_args(key, json.dumps(arguments, ensure_ascii=False))

    def _finish(self) -> None:
        raw = self._finish_reason
        self._run.finish(stop_reason=_STOP_REASONS.get(raw or "", raw), provider_stop_reason=raw,
                         usage=self._usage)


def _details_text(details: Any) -> str:
    # OpenRouter's reasoning_details: [{"type": "reasoning.text", "text"} | {"type": "reasoning.summary",
    # "summary"} | {"type": "reasoning.encrypted", "data"}, ...].  Read only when the chunk has no
    # plain "reasoning" string: OpenRouter sends both with the same text, which must count once.
    if not isinstance(details, list):
        return ""
    texts = []
    for d in details:
        if isinstance(d, dict):
            text = d.get("text") if d.get("type") != "reasoning.summary" else d.get("summary")
            if isinstance(text, str):
                texts.append(text)
    return "".join(texts)


def _details_encrypted(details: Any) -> list[str]:
    # The opaque parts of reasoning_details a client sends back next turn: the signature of a
    # reasoning.text detail (Anthropic's thinking signature, through OpenRouter) and the data of
    # a reasoning.encrypted detail.  They go out as REASONING_ENCRYPTED_VALUE.
    if not isinstance(details, list):
        return []
    values = []
    for d in details:
        if isinstance(d, dict):
            value = d.get("data") if d.get("type") == "reasoning.encrypted" else d.get("signature")
            if isinstance(value, str) and value:
                values.append(value)
    return values


def chat_usage(usage: dict[str, Any], model: str) -> TokenUsage:
    prompt = usage.get("prompt_tokens_details")
    completion = usage.get("completion_tokens_details")
    cached = count(prompt.get("cached_tokens")) if isinstance(prompt, dict) else None
    if cached is None:
        cached = count(usage.get("prompt_cache_hit_tokens"))  # DeepSeek
    return token_usage(
        "openai", model,
        input_tokens=count(usage.get("prompt_tokens")),
        output_tokens=count(usage.get("completion_tokens")),
        reported_total=count(usage.get("total_tokens")),
        reasoning_tokens=count(completion.get("reasoning_tokens")) if isinstance(completion, dict) else None,
        cached_input_tokens=cached,
    )
