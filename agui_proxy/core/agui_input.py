"""Reading an AG-UI ``RunAgentInput`` (PROTOCOL.md section 1, AG-UI 1.0) into a :class:`Conversation`.

The body is validated by the official ``ag-ui-protocol`` models (``ag_ui.core.RunAgentInput``),
not by a hand-written copy of the schema, so what the proxy accepts is what the protocol says.
Their validation errors become a 422 whose message names the field in the client's own
spelling (``messages[2].toolCalls[0].function.name: is required``).

What each part of the input becomes:

- ``system`` / ``developer`` messages, then ``context`` entries: the system prompt (every provider
  takes one; AG-UI's context is "ambient information given to the agent for the run").
- ``user`` messages: text, images (:class:`ImagePart`), audio, video and documents
  (:class:`MediaPart`), each from inline base64 data or a URL.  The pre-1.0 ``binary`` part is
  converted first, the way ``@ag-ui/client`` 1.0.0 converts it (the media kind from the MIME type).
- ``assistant`` messages: their text and ``toolCalls``; ``tool`` messages: the result for
  ``toolCallId``, with ``error`` kept as text the model can read and the result marked failed.
- ``activity`` messages: dropped (UI-only, PROTOCOL.md section 1).
- Tool calls the provider ran itself (web search, code execution; marked by the value the proxy
  put on them, :mod:`.provider_tools`): the turn's ``provider_calls``, not its tool calls, and
  the ``tool`` message answering one is dropped (the call carries what goes back).
- ``encryptedValue``: the provider's opaque values that the proxy itself emitted as
  ``REASONING_ENCRYPTED_VALUE`` and ``@ag-ui/client`` stored on what they belong to.  On a tool
  call (subtype ``tool-call``: Gemini's ``thoughtSignature``) it becomes the call's
  :attr:`ToolCall.signature`.  On a ``reasoning`` message (subtype ``message``: Anthropic's
  thinking signature or redacted data, a Responses item's ``encrypted_content``, a Gemini text
  part's signature, OpenRouter's ``reasoning_details`` values) it becomes a
  :class:`ReasoningPart` of the *next* assistant turn, which is the turn the client built from
  the same run (the reasoning message is created first).  A reasoning message with no text held
  a value with nothing readable (Anthropic's ``redacted_thinking``).  On an assistant message it
  is a value of that turn, read the same way.  User, system, developer and tool messages may
  carry one too (1.0 allows it on every message but ``activity``), but no provider documents a
  place for a value on those turns, so it is accepted and not sent.
- ``reasoning`` messages without ``encryptedValue``: dropped.  They are the model's own earlier
  thinking, and no provider takes plain reasoning text back as input: OpenAI-compatible servers
  refuse or ignore an echoed ``reasoning_content`` (DeepSeek answers 400), while Anthropic thinking
  blocks, Gemini thought parts and Responses reasoning items are only accepted with the
  provider's own signature or encrypted content, which a reasoning *text* cannot stand in for.
  Sending it as assistant text instead would put words in the model's mouth that the user never
  saw as an answer.  Reasoning that no assistant turn follows is dropped too (a run cut off while
  thinking): a turn of reasoning alone is refused by the providers that take reasoning back.
- ``tools``: neutral :class:`Tool` definitions, written out by the route's provider.
- ``resume``: the answers to the interrupts of the run before (a server tool waiting for the
  user's approval, ``tool_loop.py``): kept as :class:`~agui_proxy.core.tool_loop.Resume` entries.
- ``state``, ``forwardedProps``: not read (the proxy holds no agent state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ag_ui.core import (
    AssistantMessage,
    AudioPart,
    DataSource,
    DeveloperMessage,
    DocumentPart,
    ImagePart,
    ReasoningMessage,
    RunAgentInput,
    SystemMessage,
    TextPart,
    ToolMessage,
    UrlSource,
    UserMessage,
    VideoPart,
)
from pydantic import ValidationError

from ..errors import InboundError
from .conversation import Conversation, MediaKind, MediaPart, Message, Part, ReasoningPart, Tool, ToolCall
from .conversation import ImagePart as NeutralImage
from .conversation import TextPart as NeutralText
from .provider_tools import ProviderCall, read_provider_tool_value
from .tool_loop import Resume

_MEDIA_KINDS: dict[type, MediaKind] = {AudioPart: "audio", VideoPart: "video", DocumentPart: "document"}


def _bad(path: str, problem: str) -> InboundError:
    return InboundError(422, "invalid_request", f"{path}: {problem}")


@dataclass(slots=True)
class AGUIRun:
    """A RunAgentInput read: the conversation, and the ids the run's events echo."""

    conversation: Conversation
    thread_id: str
    run_id: str
    parent_run_id: str | None
    resume: list[Resume]


def read_run_agent_input(data: dict[str, Any]) -> AGUIRun:
    data = _upgrade_binary_parts(data)
    try:
        run_input = RunAgentInput.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, data) from None

    conversation = Conversation()
    systems: list[str] = []
    pending: list[ReasoningPart] = []  # signed reasoning waiting for the assistant turn after it
    provider_calls: set[str] = set()  # ids of the calls the provider ran (core/provider_tools.py)
    for i, message in enumerate(run_input.messages):
        if isinstance(message, ReasoningMessage):
            if message.encrypted_value:
                pending.append(_reasoning_part(message.content, message.encrypted_value, message.id))
            continue
        _read_message(message, f"messages[{i}]", conversation.messages, systems, pending, provider_calls)
        if not isinstance(message, (SystemMessage, DeveloperMessage)):
            pending = []  # taken by an assistant turn, or orphaned by a user or tool turn
    if run_input.context:
        lines = [f"- {entry.description}: {entry.value}" for entry in run_input.context]
        systems.append("Context from the application:\n" + "\n".join(lines))
    conversation.system = "\n\n".join(text for text in systems if text) or None
    for i, tool in enumerate(run_input.tools or ()):
        parameters = tool.parameters if tool.parameters is not None else {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise _bad(f"tools[{i}].parameters", "must be a JSON Schema object")
        if not tool.name:
            raise _bad(f"tools[{i}].name", "a tool needs a non-empty name")
        conversation.tools.append(Tool(tool.name, tool.description, parameters))
    resume = [Resume(entry.interrupt_id, entry.status == "resolved") for entry in run_input.resume or ()]
    return AGUIRun(conversation, run_input.thread_id, run_input.run_id, run_input.parent_run_id, resume)


def _reasoning_part(text: str, value: str, message_id: str | None) -> ReasoningPart:
    if text:
        return ReasoningPart(text=text, signature=value, id=message_id)
    return ReasoningPart(redacted_data=value, id=message_id)


def _read_message(message: Any, path: str, out: list[Message], systems: list[str],
                  reasoning: list[ReasoningPart], provider_calls: set[str]) -> None:
    if isinstance(message, (SystemMessage, DeveloperMessage)):
        systems.append(message.content)
    elif isinstance(message, UserMessage):
        parts = _read_parts(message.content, f"{path}.content")
        if parts:
            out.append(Message("user", parts))
    elif isinstance(message, AssistantMessage):
        turn = Message("assistant", [NeutralText(message.content)] if message.content else [],
                       reasoning=list(reasoning))
        if message.encrypted_value:
            turn.reasoning.append(ReasoningPart(redacted_data=message.encrypted_value))
        for call in message.tool_calls or ():
            provider_run = read_provider_tool_value(call.encrypted_value)
            if provider_run is not None:
                turn.provider_calls.append(ProviderCall(call.id, call.function.name, call.function.arguments or "{}",
                                                        *provider_run))
                provider_calls.add(call.id)
                continue
            turn.tool_calls.append(ToolCall(call.id, call.function.name, call.function.arguments or "{}",
                                            call.encrypted_value or None))
        if turn.content or turn.tool_calls or turn.provider_calls:
            out.append(turn)
    elif isinstance(message, ToolMessage):
        if message.tool_call_id in provider_calls:
            return  # what a provider-run tool returned, as the client keeps it: the call carries it
        parts = _read_parts(message.content, f"{path}.content")
        if message.error:
            # AG-UI keeps a partial result beside the error; every provider reads text, and
            # only some have an error flag, so the error travels as text as well.
            separator = "\n" if parts else ""
            parts.append(NeutralText(f"{separator}Error: {message.error}"))
        out.append(Message("tool", parts, tool_call_id=message.tool_call_id, is_error=message.error is not None))
    # ActivityMessage: dropped on purpose; ReasoningMessage is read by the caller (module docstring).


def _read_parts(content: str | list[Any], path: str) -> list[Part]:
    if isinstance(content, str):
        return [NeutralText(content)] if content else []
    parts: list[Part] = []
    for j, part in enumerate(content):
        where = f"{path}[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                parts.append(NeutralText(part.text))
            continue
        source = part.source
        url: str | None
        data: str | None
        mime: str | None
        if isinstance(source, DataSource):
            url, data, mime = None, source.value, source.mime_type
        elif isinstance(source, UrlSource):
            url, data, mime = source.value, None, source.mime_type
        else:
            # A FileSource is a handle only the provider that issued it can resolve, and the
            # input does not say which upstream that is: nothing can be sent for it.
            raise _bad(f"{where}.source.type", "'file' sources (provider file handles) are not supported; "
                       "send the bytes ('data') or a URL ('url')")
        filename = part.metadata.get("filename") if isinstance(part.metadata, dict) else None
        if isinstance(part, ImagePart):
            parts.append(NeutralImage(url=url, data=data, mime_type=mime))
        else:
            parts.append(MediaPart(_MEDIA_KINDS[type(part)], url=url, data=data, mime_type=mime,
                                   filename=filename if isinstance(filename, str) else None))
    return parts


# -- before validation: the pre-1.0 binary part --------------------------------------------------


def _upgrade_binary_parts(data: dict[str, Any]) -> dict[str, Any]:
    """Replace pre-1.0 ``{type: "binary", mimeType, data | url, filename?}`` parts by media parts.

    The 1.0 models reject ``binary``.  The conversion is the one ``@ag-ui/client`` 1.0.0 applies
    to its own outgoing input: the kind from the MIME type's prefix (``image/``, ``audio/``,
    ``video/``, anything else a document), the source from ``data`` or else ``url``.  A part
    with only an ``id`` names bytes in some store the proxy cannot reach: refused.
    """
    messages = data.get("messages")
    if not isinstance(messages, list):
        return data
    upgraded: list[Any] = []
    changed = False
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(_is_binary(p) for p in content):
            parts = [_media_from_binary(p, f"messages[{i}].content[{j}]") if _is_binary(p) else p
                     for j, p in enumerate(content)]
            message = {**message, "content": parts}
            changed = True
        upgraded.append(message)
    return {**data, "messages": upgraded} if changed else data


def _is_binary(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "binary"


def _media_from_binary(part: dict[str, Any], path: str) -> dict[str, Any]:
    mime = part.get("mimeType", part.get("mime_type"))
    if not isinstance(mime, str) or not mime:
        raise _bad(f"{path}.mimeType", "a binary part needs its MIME type")
    kind = next((k for k in ("image", "audio", "video") if mime.startswith(f"{k}/")), "document")
    if isinstance(part.get("data"), str) and part["data"]:
        source = {"type": "data", "value": part["data"], "mimeType": mime}
    elif isinstance(part.get("url"), str) and part["url"]:
        source = {"type": "url", "value": part["url"], "mimeType": mime}
    else:
        raise _bad(path, "a binary part needs 'data' or 'url'; one with only an 'id' cannot be sent to a provider")
    media: dict[str, Any] = {"type": kind, "source": source}
    if isinstance(part.get("filename"), str):
        media["metadata"] = {"filename": part["filename"]}
    return media


# -- validation errors, in the client's words -----------------------------------------------------


def _validation_error(exc: ValidationError, data: Any) -> InboundError:
    """The first error that concerns what the client actually sent, as ``path: problem``.

    Pydantic reports a failure under every branch of a union (``content`` as a string *and* as a
    list) and puts union labels in the location (``'user'``, ``'list[...]'``).  The location is
    walked against the input to drop the labels and the branches that do not match what was sent.
    """
    errors = exc.errors(include_url=False)
    for error in errors:
        found = _client_path(error["loc"], data)
        if found is not None:
            path, neither = found
            if neither:
                return _bad(path, "must be a string or a list of content parts")
            if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
                # The discriminator itself is wrong: name it (``messages[3].role``).
                field = str((error.get("ctx") or {}).get("discriminator", "")).strip("'")
                path = f"{path}.{field}" if field else path
            return _bad(path or "body", _problem(error))
    error = errors[0]
    return _bad(".".join(str(p) for p in error["loc"]) or "body", _problem(error))


def _client_path(loc: tuple[int | str, ...], data: Any) -> tuple[str, bool] | None:
    """``(path, neither)`` of ``loc`` in the input; ``None`` when it is another union branch's error.

    ``neither`` says the value is neither branch of a ``str | list`` union.
    """
    path = ""
    node = data
    for element in loc:
        if isinstance(element, int):
            path += f"[{element}]"
            node = node[element] if isinstance(node, list) and element < len(node) else None
        elif isinstance(node, dict) and element in node:
            path += f".{element}" if path else element
            node = node[element]
        elif isinstance(node, dict) and element in (node.get("role"), node.get("type")):
            continue  # a discriminated union's tag: already in the data
        elif element == "str":
            # The string branch of ``content: str | list[part]``: its error counts unless a list was sent.
            if isinstance(node, list):
                return None
            return path, not isinstance(node, str)
        elif element.startswith("list["):
            if not isinstance(node, list):
                return None  # the string branch reports it
        else:
            path += f".{element}" if path else element  # a field that is missing
            node = None
    return path, False


def _problem(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("missing", "union_tag_not_found"):
        return "is required"
    if kind == "string_type":
        return "must be a string"
    if kind == "list_type":
        return "must be a list"
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return "must be an object"
    if kind == "union_tag_invalid":
        field = str(ctx.get("discriminator", "")).strip("'")
        return f"unknown {field} {ctx.get('tag')!r} (one of: {ctx.get('expected_tags')})"
    return str(error["msg"])
