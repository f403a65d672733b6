"""AWS Bedrock's Converse streaming API: one request and stream shape for every Bedrock model.

Request: ``POST {base_url}/model/{modelId}/converse-stream``, the model id (or inference profile
id or ARN) percent-encoded as one path segment, as AWS's SDKs send it.  ``base_url`` is
``https://bedrock-runtime.{region}.amazonaws.com`` unless the config gives another endpoint.
Auth is a Bedrock API key as ``Authorization: Bearer`` when ``api_key`` is set; otherwise the
shell signs each request with SigV4 on its way out (``agui_proxy/upstream/clouds/aws.py``): signing needs
the time and live credentials, so it is no part of the request built here.

Body (the Converse API reference): ``system`` as text blocks; ``messages`` alternating ``user`` and
``assistant``, each a list of content blocks (``text``, ``image``, ``document``, ``toolUse``,
``toolResult``, ``reasoningContent``); ``toolConfig`` with ``toolSpec`` tools and ``toolChoice``;
``inferenceConfig.maxTokens``.  Reasoning is asked for per model in
``additionalModelRequestFields`` (Claude: ``thinking: {type: enabled, budget_tokens}``), which
the config's ``body`` merges in.  The answer is an event stream, decoded by
:class:`~agui_proxy.core.eventstream.EventStreamEvents` and translated by
:class:`~agui_proxy.providers.bedrock_stream.BedrockTranslator`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..core.conversation import Conversation, ImagePart, MediaPart, Message, TextPart, Tool, ToolChoice
from ..core.eventstream import EventStreamEvents
from ..core.run import RunBuilder
from ..core.translator import EventDecoder, Translator
from ..errors import InboundError
from .arguments import arguments_object
from .base import alternating_turns
from .bedrock_stream import BedrockTranslator
from .http import HTTPProvider, UpstreamSettings, bearer_auth

EVENT_STREAM = "application/vnd.amazon.eventstream"

# What Converse's ImageBlock and DocumentBlock take, by MIME type.
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                  "image/webp": "webp"}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html", "text/plain": "txt", "text/markdown": "md",
}
# A DocumentBlock name: letters, digits, whitespace, hyphens, parentheses and square brackets,
# no two whitespace characters in a row.
_NAME_REFUSED = re.compile(r"[^A-Za-z0-9\s\-()\[\]]")


@dataclass(frozen=True, slots=True)
class BedrockSettings(UpstreamSettings):
    region: str = ""


def bedrock_endpoint(region: str) -> str:
    return f"https://bedrock-runtime.{region}.amazonaws.com"


class Bedrock(HTTPProvider):
    name = "bedrock"
    family = "bedrock"
    settings_class = BedrockSettings
    stream_content_type = EVENT_STREAM

    def request_path(self) -> str:
        return f"/model/{quote(self.settings.model, safe='')}/converse-stream"

    def provider_headers(self) -> dict[str, str]:
        return {"accept": EVENT_STREAM, **bearer_auth(self.settings.api_key)}

    def request_body(self, conversation: Conversation) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": bedrock_messages(conversation)}
        if conversation.system:
            body["system"] = [{"text": conversation.system}]
        body["inferenceConfig"] = {"maxTokens": conversation.max_tokens}
        tools = conversation.native_tools.get("bedrock") or [bedrock_tool(t) for t in conversation.tools]
        tools = [*tools, *(bedrock_tool(t) for t in conversation.server_tools)]
        if tools:
            config: dict[str, Any] = {"tools": tools}
            choice = conversation.tool_choice
            if tools and choice is not None and choice.type != "none":
                # Converse has no "none": the model is left to choose, as with no choice given.
                config["toolChoice"] = bedrock_tool_choice(choice)
            body["toolConfig"] = config
        return body

    def decoder(self, max_event_size: int) -> EventDecoder:
        return EventStreamEvents(max_event_size)

    def translator(self, run: RunBuilder) -> Translator:
        return BedrockTranslator(run, model=self.settings.model)


def bedrock_tool(tool: Tool) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name}
    if tool.description:
        spec["description"] = tool.description
    spec["inputSchema"] = {"json": tool.parameters}
    return {"toolSpec": spec}


def bedrock_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    if choice.type == "tool":
        return {"tool": {"name": choice.name}}
    return {choice.type: {}}  # {"auto": {}} or {"any": {}}


def bedrock_messages(conversation: Conversation) -> list[dict[str, Any]]:
    """The turns as content-block lists, same-role neighbours merged (Converse wants alternation:
    the results of parallel calls and the user's next words go back in one user turn)."""
    return alternating_turns(conversation, _blocks)


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        result: dict[str, Any] = {"toolUseId": message.tool_call_id or "", "content": [{"text": message.text}]}
        if message.is_error:
            result["status"] = "error"
        return [{"toolResult": result}]
    blocks: list[dict[str, Any]] = []
    for reasoning in message.reasoning:
        # Reasoning goes back first and unchanged; only signed reasoning (or redacted reasoning,
        # whose bytes are its own proof) is taken back by the models that check it.
        if reasoning.redacted_data:
            blocks.append({"reasoningContent": {"redactedContent": reasoning.redacted_data}})
        elif reasoning.signature:
            blocks.append({"reasoningContent": {"reasoningText": {"text": reasoning.text,
                                                                  "signature": reasoning.signature}}})
    for number, part in enumerate(message.content):
        if isinstance(part, ImagePart):
            blocks.append({"image": _image(part)})
        elif isinstance(part, MediaPart):
            blocks.append({"document": _document(part, number)})
        elif isinstance(part, TextPart) and part.text:
            blocks.append({"text": part.text})
    for call in message.tool_calls:
        blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": arguments_object(call.arguments)}})
    return blocks


def _image(part: ImagePart) -> dict[str, Any]:
    image_format = _IMAGE_FORMATS.get((part.mime_type or "").lower())
    if part.data is None or image_format is None:
        raise InboundError(422, "unsupported_content", "Bedrock's Converse API takes images inline (base64 data) "
                           "as PNG, JPEG, GIF or WebP, not by URL")
    return {"format": image_format, "source": {"bytes": part.data}}


def _document(part: MediaPart, number: int) -> dict[str, Any]:
    doc_format = _DOCUMENT_FORMATS.get((part.mime_type or "").lower())
    if part.kind != "document" or part.data is None or doc_format is None:
        raise InboundError(422, "unsupported_content", f"Bedrock's Converse API cannot take {part.kind} "
                           f"({part.mime_type or 'unknown type'}{'' if part.data else ', by URL'}): it takes "
                           "inline documents (PDF, CSV, DOC, DOCX, XLS, XLSX, HTML, TXT, MD)")
    return {"format": doc_format, "name": document_name(part.filename, number), "source": {"bytes": part.data}}


def document_name(filename: str | None, number: int) -> str:
    """A name Converse accepts, from the file's (its extension dropped, refused characters spaced)."""
    stem = (filename or "").rsplit(".", 1)[0]
    name = " ".join(_NAME_REFUSED.sub(" ", stem).split())
    return name[:200] or f"document {number + 1}"
