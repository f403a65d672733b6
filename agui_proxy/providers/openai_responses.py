"""The OpenAI Responses API (FORMATS.md section 3): the request side.

Request: ``POST {base_url}/responses`` with ``Authorization: Bearer <key>``.  The system prompt is
``instructions``; the conversation is a list of ``input`` items: messages, and for a turn where the
assistant called tools, one ``function_call`` item per call (after the turn's ``reasoning``
items, each with its ``encrypted_content``) followed later by one ``function_call_output`` item
per result, linked by ``call_id`` (the id the model gave the call, never the ``fc_...`` item id).
Tools are flat (``{type: "function", name, description, parameters}``), unlike Chat Completions'
``{type, function: {...}}`` that BranderUX sends.
The config's ``body:`` is merged last, so ``reasoning: {effort, summary}``, ``store: false`` or
``include: ["reasoning.encrypted_content"]`` go there.

The stream side is :mod:`agui_proxy.providers.responses_stream`.
"""

from __future__ import annotations

from typing import Any

from ..core.conversation import Conversation, ImagePart, MediaPart, Message, ReasoningPart, TextPart, Tool, ToolChoice
from ..core.run import RunBuilder
from ..core.translator import Translator
from ..errors import InboundError
from .http import HTTPProvider, bearer_auth
from .responses_stream import ResponsesTranslator


class OpenAIResponses(HTTPProvider):
    name = "openai-responses"
    family = "openai"  # BranderUX's tools.openai list is the one this provider reads

    def request_path(self) -> str:
        return "/responses"

    def provider_headers(self) -> dict[str, str]:
        return bearer_auth(self.settings.api_key)

    def request_body(self, conversation: Conversation) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.settings.model}
        if conversation.system:
            body["instructions"] = conversation.system
        body["input"] = responses_input(conversation)
        tools = responses_tools(conversation)
        if tools:
            body["tools"] = tools
            if conversation.tool_choice is not None:
                body["tool_choice"] = responses_tool_choice(conversation.tool_choice)
        body["max_output_tokens"] = conversation.max_tokens
        body["stream"] = True
        return body

    def translator(self, run: RunBuilder) -> Translator:
        return ResponsesTranslator(run, model=self.settings.model)


# -- input items ----------------------------------------------------------------------------------


def responses_input(conversation: Conversation) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in conversation.messages:
        items.extend(_items(message))
    return items


def _items(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        # No error flag exists on a function_call_output: the result text says what went wrong.
        return [{"type": "function_call_output", "call_id": message.tool_call_id, "output": message.text}]
    if message.role == "assistant":
        items = [_reasoning_item(r) for r in message.reasoning if r.opaque]
        if message.text:
            items.append({"role": "assistant", "content": message.text})
        items.extend({"type": "function_call", "call_id": call.id, "name": call.name, "arguments": call.arguments}
                     for call in message.tool_calls)
        return items
    if all(isinstance(part, TextPart) for part in message.content):
        return [{"role": "user", "content": message.text}]
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ImagePart):
            url = part.url or f"data:{part.mime_type};base64,{part.data}"
            parts.append({"type": "input_image", "image_url": url, "detail": "auto"})
        elif isinstance(part, MediaPart):
            parts.append(_input_file(part))
        else:
            parts.append({"type": "input_text", "text": part.text})
    return [{"role": "user", "content": parts}]


def _reasoning_item(reasoning: ReasoningPart) -> dict[str, Any]:
    """A ``reasoning`` input item, before the turn's message and ``function_call`` items.

    With ``store: false`` the model's reasoning survives a tool call only if its item comes back
    with its ``encrypted_content`` (``include: ["reasoning.encrypted_content"]``); ``summary`` is
    required, the text the client saw.  ``id`` is the item's own ``rs_...`` id (the run's
    reasoning message id); an id of another origin names no item of OpenAI's, so it is left out.
    """
    item: dict[str, Any] = {"type": "reasoning"}
    if reasoning.id and reasoning.id.startswith("rs_"):
        item["id"] = reasoning.id
    item["summary"] = [{"type": "summary_text", "text": reasoning.text}] if reasoning.text else []
    item["encrypted_content"] = reasoning.opaque
    return item


def _input_file(part: MediaPart) -> dict[str, Any]:
    """Responses takes documents as ``input_file`` (inline or by URL); no audio or video input."""
    if part.kind == "document" and part.data:
        return {"type": "input_file", "filename": part.filename or "document",
                "file_data": f"data:{part.mime_type};base64,{part.data}"}
    if part.kind == "document" and part.url:
        return {"type": "input_file", "file_url": part.url}
    raise InboundError(422, "unsupported_content", f"the OpenAI Responses API cannot take {part.kind} "
                       f"({part.mime_type or 'unknown type'}) input: it takes images and documents")


# -- tools ------------------------------------------------------------------------------------------


def responses_tools(conversation: Conversation) -> list[dict[str, Any]]:
    """BranderUX's ``tools.openai`` flattened, or the neutral tools written flat; then the server tools."""
    native = conversation.native_tools.get("openai")
    tools = [flatten_tool(entry) for entry in native] if native else [responses_tool(t) for t in conversation.tools]
    return [*tools, *(responses_tool(t) for t in conversation.server_tools)]


def flatten_tool(entry: Any) -> Any:
    """Chat's ``{type: "function", function: {name, ...}}`` as ``{type: "function", name, ...}``.

    Entries already flat pass as they are (the inbound reader has checked that each names a
    function).
    """
    if isinstance(entry, dict) and isinstance(entry.get("function"), dict):
        flat = {k: v for k, v in entry.items() if k != "function"}
        flat["type"] = "function"
        flat.update(entry["function"])
        return flat
    return entry


def responses_tool(tool: Tool) -> dict[str, Any]:
    return {"type": "function", "name": tool.name, "description": tool.description, "parameters": tool.parameters}


def responses_tool_choice(choice: ToolChoice) -> Any:
    if choice.type == "tool":
        return {"type": "function", "name": choice.name}  # flat here too
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type]
