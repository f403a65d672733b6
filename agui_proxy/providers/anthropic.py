"""Anthropic Messages (FORMATS.md section 4).

Request: ``POST {base_url}/messages`` with ``x-api-key`` and ``anthropic-version: 2023-06-01``
(config ``headers`` add ``anthropic-beta`` or override the version).  The system prompt is the
top-level ``system``; tool calls are ``tool_use`` blocks in an assistant turn and their results
``tool_result`` blocks in the next user turn; a tool Anthropic ran itself goes back as its
``server_tool_use`` block and result block, in the assistant turn; turns must alternate, so same-role neighbours are
merged.  The stream (``event: <type>`` + ``data: {"type": <type>, ...}``) is translated by
:class:`~agui_proxy.providers.anthropic_stream.AnthropicTranslator`.
"""

from __future__ import annotations

from typing import Any

from ..core.conversation import Conversation, ImagePart, MediaPart, Message, TextPart, Tool, ToolChoice
from ..core.run import RunBuilder
from ..core.translator import Translator
from ..errors import InboundError
from .anthropic_stream import AnthropicTranslator
from .arguments import arguments_object
from .base import alternating_turns
from .http import HTTPProvider

ANTHROPIC_VERSION = "2023-06-01"


class Anthropic(HTTPProvider):
    name = "anthropic"
    family = "anthropic"

    def request_path(self) -> str:
        return "/messages"

    def provider_headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self.settings.api_key:
            headers["x-api-key"] = self.settings.api_key
        return headers

    def request_body(self, conversation: Conversation) -> dict[str, Any]:
        # The config's body is merged in after, e.g. thinking: {type: enabled, budget_tokens: 1024}.
        body: dict[str, Any] = {
            "model": self.settings.model,
            "max_tokens": conversation.max_tokens,  # required by the Messages API
            "stream": True,
            "messages": anthropic_messages(conversation),
        }
        if conversation.system:
            body["system"] = conversation.system
        tools = conversation.native_tools.get("anthropic") or [anthropic_tool(t) for t in conversation.tools]
        tools = [*tools, *(anthropic_tool(t) for t in conversation.server_tools)]
        if tools:
            body["tools"] = tools
            if conversation.tool_choice is not None:
                body["tool_choice"] = anthropic_tool_choice(conversation.tool_choice)
        return body

    def translator(self, run: RunBuilder) -> Translator:
        return AnthropicTranslator(run, model=self.settings.model)


def anthropic_tool(tool: Tool) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": tool.name}
    if tool.description:
        wire["description"] = tool.description
    wire["input_schema"] = tool.parameters
    return wire


def anthropic_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    # The neutral choice is Anthropic-shaped already: {type: auto|any|none|tool, name?}.
    if choice.type == "tool":
        return {"type": "tool", "name": choice.name}
    return {"type": choice.type}


def anthropic_messages(conversation: Conversation) -> list[dict[str, Any]]:
    """The turns as content-block lists, same-role neighbours merged (the API wants alternation:
    the results of parallel calls and the user's next words end up in one user turn)."""
    return alternating_turns(conversation, _blocks)


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        if message.text:
            result["content"] = message.text
        if message.is_error:
            result["is_error"] = True
        return [result]
    blocks: list[dict[str, Any]] = []
    for reasoning in message.reasoning:
        # Thinking goes back first and unchanged; unsigned thinking is refused by the API, so
        # only signed blocks (and redacted ones, whose data is their signature) are sent.
        if reasoning.redacted_data:
            blocks.append({"type": "redacted_thinking", "data": reasoning.redacted_data})
        elif reasoning.signature:
            blocks.append({"type": "thinking", "thinking": reasoning.text, "signature": reasoning.signature})
    for part in message.content:
        if isinstance(part, ImagePart):
            blocks.append({"type": "image", "source": _image_source(part)})
        elif isinstance(part, MediaPart):
            blocks.append(_document(part))
        elif isinstance(part, TextPart) and part.text:
            blocks.append({"type": "text", "text": part.text})
    for run in message.provider_calls:
        # A tool Anthropic ran (web search, ...) goes back as it came: the call, then its result
        # block with the encrypted content the next turn needs (core/provider_tools.py).  One
        # without its result (cut off) cannot go back alone.
        if run.family == "anthropic" and run.blocks:
            blocks.append({"type": "server_tool_use", "id": run.id, "name": run.name,
                           "input": arguments_object(run.arguments)})
            blocks.extend(run.blocks)
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments_object(call.arguments)})
    return blocks


def _document(part: MediaPart) -> dict[str, Any]:
    """Messages takes PDFs (inline or by URL) and plain text as ``document`` blocks; no audio or video."""
    mime = (part.mime_type or "").lower()
    if part.kind == "document" and part.url and not part.data:
        return {"type": "document", "source": {"type": "url", "url": part.url}}
    if part.kind == "document" and part.data and mime == "application/pdf":
        return {"type": "document", "source": {"type": "base64", "media_type": mime, "data": part.data}}
    raise InboundError(422, "unsupported_content", f"the Anthropic Messages API cannot take {part.kind} "
                       f"({part.mime_type or 'unknown type'}): it takes images and PDF documents")


def _image_source(image: ImagePart) -> dict[str, Any]:
    if image.data is not None:
        return {"type": "base64", "media_type": image.mime_type, "data": image.data}
    return {"type": "url", "url": image.url}
