"""Google Gemini (FORMATS.md section 5), the Developer API and Vertex AI.

Request: ``POST {base_url}/models/{model}:streamGenerateContent?alt=sse`` with the key in the
``x-goog-api-key`` header, never in the URL (URLs end up in logs).  Vertex AI is the same body
under another ``base_url`` (``.../projects/P/locations/L/publishers/google``) with an
``Authorization: Bearer`` header from config instead of ``api_key``.

Body: ``contents`` of ``user`` and ``model`` turns made of ``parts``; ``systemInstruction``; tools as
``[{"functionDeclarations": [...]}]``; ``toolConfig`` from the tool choice;
``generationConfig.maxOutputTokens``.  A tool call is a ``functionCall`` part of a model turn (with
its ``thoughtSignature``, which Gemini 3 requires back) and its result a ``functionResponse`` part
of the next user turn, named like the call; parallel results share one turn.  The stream is
translated by :class:`~agui_proxy.providers.gemini_stream.GeminiTranslator`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from ..core.conversation import Conversation, ImagePart, MediaPart, Message, TextPart, Tool, ToolChoice
from ..core.run import RunBuilder
from ..core.translator import Translator
from .arguments import arguments_object
from .base import alternating_turns
from .gemini_stream import GeminiTranslator
from .http import HTTPProvider


class Gemini(HTTPProvider):
    name = "gemini"
    family = "gemini"

    def request_path(self) -> str:
        model = self.settings.model.removeprefix("models/")
        return f"/models/{quote(model, safe='-._~')}:streamGenerateContent"

    def request_query(self) -> dict[str, str]:
        return {"alt": "sse"}  # without it the endpoint streams one JSON array, not server-sent events

    def provider_headers(self) -> dict[str, str]:
        key = self.settings.api_key
        return {"x-goog-api-key": key} if key else {}

    def request_body(self, conversation: Conversation) -> dict[str, Any]:
        # The config's body is merged in after, e.g. generationConfig.thinkingConfig or
        # toolConfig.functionCallingConfig.streamFunctionCallArguments.
        body: dict[str, Any] = {"contents": gemini_contents(conversation)}
        if conversation.system:
            body["systemInstruction"] = {"parts": [{"text": conversation.system}]}
        native = conversation.native_tools.get("gemini")
        tools = gemini_native_tools(native) if native else gemini_tools(conversation.tools)
        tools = with_declarations(tools, conversation.server_tools)
        if tools:
            body["tools"] = tools
            if conversation.tool_choice is not None:
                body["toolConfig"] = {"functionCallingConfig": gemini_tool_choice(conversation.tool_choice)}
        body["generationConfig"] = {"maxOutputTokens": conversation.max_tokens}
        return body

    def translator(self, run: RunBuilder) -> Translator:
        return GeminiTranslator(run, model=self.settings.model)


# -- tools ------------------------------------------------------------------------------------


def gemini_native_tools(entries: list[Any]) -> list[Any]:
    """BranderUX's ``tools.gemini``: usually bare function declarations, wrapped here into one
    ``{"functionDeclarations": [...]}`` tool; entries that are tools already (``functionDeclarations``
    wrappers, ``googleSearch``, ``codeExecution``) are kept as they are."""
    bare = [e for e in entries if _is_declaration(e)]
    tools = [e for e in entries if not _is_declaration(e)]
    return ([{"functionDeclarations": bare}] if bare else []) + tools


def _is_declaration(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("name"), str)


def gemini_tools(tools: list[Tool]) -> list[dict[str, Any]]:
    """Tools given in another provider's format.  Their schemas are plain JSON Schema, which
    ``parametersJsonSchema`` takes as is (``parameters`` takes only an OpenAPI subset)."""
    if not tools:
        return []
    declarations = []
    for tool in tools:
        declaration: dict[str, Any] = {"name": tool.name}
        if tool.description:
            declaration["description"] = tool.description
        declaration["parametersJsonSchema"] = tool.parameters
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}]


def with_declarations(tools: list[Any], extra: list[Tool]) -> list[Any]:
    """``tools`` with the declarations of ``extra`` added to its function declarations (one
    ``functionDeclarations`` tool for every function, as Gemini documents it)."""
    if not extra:
        return tools
    added = gemini_tools(extra)[0]["functionDeclarations"]
    for i, tool in enumerate(tools):
        if isinstance(tool, dict) and isinstance(tool.get("functionDeclarations"), list):
            return [*tools[:i], {**tool, "functionDeclarations": [*tool["functionDeclarations"], *added]},
                    *tools[i + 1:]]
    return [*tools, {"functionDeclarations": added}]


def gemini_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    if choice.type == "tool":
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    return {"mode": {"auto": "AUTO", "any": "ANY", "none": "NONE"}[choice.type]}


# -- contents ---------------------------------------------------------------------------------


def gemini_contents(conversation: Conversation) -> list[dict[str, Any]]:
    """The turns as ``{role: user|model, parts}``, same-role neighbours merged: the results of
    parallel calls must come back in one turn, as many ``functionResponse`` parts as calls."""
    return alternating_turns(conversation, lambda message: _parts(message, conversation),
                             assistant="model", key="parts")


def _parts(message: Message, conversation: Conversation) -> list[dict[str, Any]]:
    if message.role == "tool":
        call_id = message.tool_call_id or ""
        response: dict[str, Any] = {
            # Gemini names a result by its function, which a tool message rarely says: the
            # earlier call with the same id does.
            "name": message.name or conversation.tool_name_for(call_id) or "",
            "id": call_id,
            "response": function_response(message.text, message.is_error),
        }
        return [{"functionResponse": response}]
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, (ImagePart, MediaPart)):
            parts.append(_image(part))  # Gemini takes audio, video and PDFs the same way
        elif isinstance(part, TextPart) and part.text:
            parts.append({"text": part.text})
    for call in message.tool_calls:
        function_call = {"name": call.name, "args": arguments_object(call.arguments), "id": call.id}
        wire: dict[str, Any] = {"functionCall": function_call}
        if call.signature:
            wire["thoughtSignature"] = call.signature  # in the same part as the call (Gemini 3)
        parts.append(wire)
    _sign_text_parts(parts, [r.opaque for r in message.reasoning if r.opaque])
    return parts


def _sign_text_parts(parts: list[dict[str, Any]], signatures: list[str]) -> None:
    """The turn's other signatures, back on its text parts.

    Gemini signs the part after a thought; the run gave a text part's signature to the
    reasoning before it, which the client keeps as a reasoning message.  Google asks for every
    signature back in the part it came with: the text parts, in order, take them; one left over
    (the model signed a final ``{"text": ""}``, or no text part is left) is such an empty part.
    Thought text itself is never sent back.
    """
    text_parts = (p for p in parts if "text" in p and "thoughtSignature" not in p)
    for signature in signatures:
        part = next(text_parts, None)
        if part is None:
            parts.append({"text": "", "thoughtSignature": signature})
        else:
            part["thoughtSignature"] = signature


def function_response(text: str, is_error: bool) -> dict[str, Any]:
    """``functionResponse.response`` must be an object.  Google's API reference: put the output
    under ``"output"`` and a failure under ``"error"``; a result that is a JSON object already
    is the response itself."""
    if is_error:
        return {"error": text}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser: kept as text
        value = None
    return value if isinstance(value, dict) else {"output": text}


def _image(image: ImagePart | MediaPart) -> dict[str, Any]:
    if image.data is not None:
        return {"inlineData": {"mimeType": image.mime_type, "data": image.data}}
    file_data: dict[str, Any] = {"fileUri": image.url}
    if image.mime_type:
        file_data["mimeType"] = image.mime_type
    return {"fileData": file_data}
