"""Reading the client's request body into a :class:`Conversation` (PROTOCOL.md section 1).

Two kinds of client, told apart by the body:

- BranderUX: ``{"params": {system, messages, tools, max_tokens, tool_choice}}``, or the older flat
  form with those keys at the top level; answered with a ``data: [DONE]`` terminator.
- AG-UI ``RunAgentInput`` (``threadId``, ``runId``, ``messages``, ...): no terminator.

Every refusal is an :class:`InboundError` whose message names the field (``params.messages[2].role``)
and the problem, so a frontend developer can fix their request from the message alone.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import InboundError
from .agui_input import read_run_agent_input
from .conversation import Conversation, ImagePart, Message, Part, TextPart, ToolCall, ToolChoice
from .reasoning_input import read_reasoning_details, read_reasoning_item, read_thinking
from .tool_loop import Resume
from .tools import read_tool_lists

ClientKind = Literal["branderux", "agui"]
MAX_JSON_DEPTH = 64
DEFAULT_MAX_TOKENS = 4000


@dataclass(slots=True)
class InboundRequest:
    kind: ClientKind
    conversation: Conversation
    thread_id: str
    run_id: str
    parent_run_id: str | None = None  # RunAgentInput.parentRunId, echoed on RUN_STARTED
    resume: list[Resume] = field(default_factory=list)  # RunAgentInput.resume: answers to interrupts


def _bad(path: str, problem: str) -> InboundError:
    return InboundError(422, "invalid_request", f"{path}: {problem}")


def decode_json(body: bytes) -> Any:
    """Bytes to JSON, with a 400 that says what is wrong when they are not.

    Strict where Python's ``json`` is lenient, because the value is sent on as JSON text:
    ``NaN`` / ``Infinity`` and numbers too large for a double (or of more than
    ``MAX_NUMBER_DIGITS`` digits) are refused here instead of breaking the upstream request later.
    A lone UTF-16 surrogate escape (``"\\ud83d"``: a frontend that cut an emoji in half with
    ``.slice()``) cannot be written as UTF-8 either, but refusing it would fail every later turn
    of the thread, since AG-UI clients resend the whole history: it becomes U+FFFD, as a UTF-8
    decoder does with a broken sequence, and the request goes on.
    """
    if not body.strip():
        raise InboundError(400, "invalid_json", "the request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InboundError(400, "invalid_encoding", f"the request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_int=_int, parse_float=_float)
    except json.JSONDecodeError as exc:
        raise InboundError(400, "invalid_json", f"the request body is not valid JSON: {exc.msg} at line "
                           f"{exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InboundError(400, "too_deep", f"the request body nests deeper than {MAX_JSON_DEPTH} levels") from None
    _check_tree(value, MAX_JSON_DEPTH)
    if _SURROGATE_ESCAPE.search(text):  # only an escape can give one: strict UTF-8 refuses them raw
        value = _without_lone_surrogates(value)
    return value


MAX_NUMBER_DIGITS = 100


def _no_constant(name: str) -> Any:
    raise InboundError(400, "invalid_json", f"the request body is not valid JSON: {name} is not a JSON number")


def _int(digits: str) -> int:
    if len(digits) > MAX_NUMBER_DIGITS:
        raise InboundError(400, "invalid_json", f"the request body has a number of more than {MAX_NUMBER_DIGITS} "
                           "digits")
    return int(digits)


def _float(text: str) -> float:
    value = float(text)
    if len(text) > MAX_NUMBER_DIGITS or value in (float("inf"), float("-inf")):
        raise InboundError(400, "invalid_json", f"the request body has a number out of range ({text[:20]}...)")
    return value


def _check_tree(value: Any, limit: int) -> None:
    """The depth cap, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise InboundError(400, "too_deep", f"the request body nests deeper than {limit} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
REPLACEMENT_CHARACTER = "\ufffd"


def _without_lone_surrogates(node: Any) -> Any:
    """The value with every lone surrogate (json.loads has paired the valid ones) as U+FFFD.

    Recursive, but only after :func:`_check_tree` has capped the depth.
    """
    if isinstance(node, str):
        return _SURROGATE.sub(REPLACEMENT_CHARACTER, node) if not node.isascii() else node
    if isinstance(node, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_lone_surrogates(v) for v in node]
    return node


def read_request(body: bytes) -> InboundRequest:
    data = decode_json(body)
    if not isinstance(data, dict):
        raise InboundError(422, "invalid_request", "the request body must be a JSON object")
    if "params" in data:
        params = data["params"]
        if not isinstance(params, dict):
            raise _bad("params", "must be an object")
        return _read_branderux(params, "params")
    if "threadId" in data or "runId" in data:
        run = read_run_agent_input(data)
        return InboundRequest("agui", run.conversation, run.thread_id, run.run_id, run.parent_run_id, run.resume)
    if "messages" in data:
        return _read_branderux(data, "body")
    raise _bad("body", "expected {\"params\": {...}} (BranderUX) or an AG-UI RunAgentInput")


def _new_ids() -> tuple[str, str]:
    return f"thread_{uuid.uuid4().hex[:24]}", f"run_{uuid.uuid4().hex[:24]}"


def _read_branderux(params: dict[str, Any], path: str) -> InboundRequest:
    conv = Conversation()
    system = params.get("system")
    if system is not None and not isinstance(system, str):
        raise _bad(f"{path}.system", "must be a string")
    systems = [system] if system else []

    messages = params.get("messages")
    if not isinstance(messages, list):
        raise _bad(f"{path}.messages", "is required and must be a list of messages")
    for i, raw in enumerate(messages):
        read_message(raw, f"{path}.messages[{i}]", conv.messages, systems)
    conv.system = "\n\n".join(systems) or None

    tools = params.get("tools")
    if tools is not None:
        if isinstance(tools, list):  # a bare list: read as OpenAI-style (the common case)
            tools = {"openai": tools}
        if not isinstance(tools, dict):
            raise _bad(f"{path}.tools", "must be an object {anthropic, openai, gemini} of tool lists")
        for family, entries in tools.items():
            if entries is None:
                continue
            if not isinstance(entries, list):
                raise _bad(f"{path}.tools.{family}", "must be a list")
            conv.native_tools[family] = entries
        conv.tools = read_tool_lists(conv.native_tools, f"{path}.tools")

    max_tokens = params.get("max_tokens", DEFAULT_MAX_TOKENS)
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _bad(f"{path}.max_tokens", "must be a positive integer")
    conv.max_tokens = max_tokens
    if params.get("tool_choice") is not None:
        conv.tool_choice = read_tool_choice(params["tool_choice"], f"{path}.tool_choice")
    conv.requested_model = read_model(params.get("model"), f"{path}.model")
    return InboundRequest("branderux", conv, *_new_ids())


MAX_MODEL_NAME = 256


def read_model(raw: Any, path: str) -> str | None:
    """``params.model``: a model name or nothing (whether it is allowed is the route's call)."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_MODEL_NAME:
        raise _bad(path, f"must be a model name (a non-empty string of at most {MAX_MODEL_NAME} characters)")
    return raw


def read_tool_choice(raw: Any, path: str) -> ToolChoice:
    """Anthropic-shaped ``{type, name?}`` (what BranderUX forwards) or OpenAI-shaped."""
    if isinstance(raw, str):
        mapped = {"auto": "auto", "none": "none", "required": "any", "any": "any"}.get(raw)
        if mapped is None:
            raise _bad(path, f"unknown tool_choice {raw!r} (auto, none, required)")
        return ToolChoice(mapped)  # type: ignore[arg-type]
    if not isinstance(raw, dict):
        raise _bad(path, "must be a string or an object")
    kind = raw.get("type")
    if kind == "function":  # OpenAI {"type": "function", "function": {"name": ...}}
        fn = raw.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(name, str):
            raise _bad(f"{path}.function.name", "must name the tool")
        return ToolChoice("tool", name)
    if kind == "tool":
        if not isinstance(raw.get("name"), str):
            raise _bad(f"{path}.name", "must name the tool")
        return ToolChoice("tool", raw["name"])
    if kind in ("auto", "any", "none"):
        return ToolChoice(kind)
    raise _bad(f"{path}.type", f"unknown tool_choice type {kind!r} (auto, any, tool, none)")


def read_message(raw: Any, path: str, out: list[Message], systems: list[str]) -> None:
    """One BranderUX/OpenAI/Anthropic-style message, appended to ``out`` as neutral turns.

    System and developer turns go to ``systems`` (every provider takes one system prompt).
    Anthropic ``tool_result`` blocks inside a user turn become separate ``tool`` turns.
    """
    if not isinstance(raw, dict):
        raise _bad(path, "a message must be an object with a role")
    role = raw.get("role")
    content = raw.get("content")
    if role in ("system", "developer"):
        text = _text_of(content, f"{path}.content")
        if text:
            systems.append(text)
        return
    if role == "tool":
        call_id = raw.get("tool_call_id", raw.get("toolCallId"))
        if not isinstance(call_id, str) or not call_id:
            raise _bad(f"{path}.tool_call_id", "a tool message needs the id of the call it answers")
        out.append(Message("tool", [TextPart(_text_of(content, f"{path}.content"))], tool_call_id=call_id,
                           name=raw.get("name") if isinstance(raw.get("name"), str) else None))
        return
    if role not in ("user", "assistant"):
        raise _bad(f"{path}.role", f"unknown role {role!r} (user, assistant, system, developer, tool)")

    message = Message(role)
    results: list[Message] = []
    if isinstance(content, str):
        if content:
            message.content.append(TextPart(content))
    elif isinstance(content, list):
        for j, block in enumerate(content):
            _read_block(block, f"{path}.content[{j}]", message, results)
    elif content is not None:
        raise _bad(f"{path}.content", "must be a string or a list of content parts")
    elif role == "user":
        raise _bad(f"{path}.content", "a user message needs content")

    calls = raw.get("tool_calls", raw.get("toolCalls"))
    if calls is not None:
        if role != "assistant" or not isinstance(calls, list):
            raise _bad(f"{path}.tool_calls", "only an assistant message has tool_calls, as a list")
        for j, call in enumerate(calls):
            message.tool_calls.append(_read_openai_call(call, f"{path}.tool_calls[{j}]"))
    if raw.get("reasoning_details") is not None and role == "assistant":
        message.reasoning.extend(read_reasoning_details(raw["reasoning_details"], f"{path}.reasoning_details"))
    # Results first: they answer the previous assistant turn; any text in the same user turn
    # comes after them (Anthropic requires tool_result blocks to lead the user turn too).
    out.extend(results)
    if message.content or message.tool_calls:
        out.append(message)


def _read_openai_call(call: Any, path: str) -> ToolCall:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(call.get("id"), str) or not isinstance(fn.get("name"), str):
        raise _bad(path, "expected {id, type: \"function\", function: {name, arguments}}")
    args = fn.get("arguments", "{}")
    if not isinstance(args, str):
        args = json.dumps(args, ensure_ascii=False)
    # AG-UI's ToolCall.encryptedValue: the provider's signature of the call (Gemini 3), sent back.
    signature = call.get("encryptedValue", call.get("encrypted_value"))
    return ToolCall(call["id"], fn["name"], args or "{}", signature if isinstance(signature, str) else None)


def _read_block(block: Any, path: str, message: Message, results: list[Message]) -> None:
    if isinstance(block, str):
        message.content.append(TextPart(block))
        return
    if not isinstance(block, dict):
        raise _bad(path, "a content part must be an object with a type")
    kind = block.get("type")
    if kind in ("text", "input_text", "output_text"):
        if not isinstance(block.get("text"), str):
            raise _bad(f"{path}.text", "must be a string")
        message.content.append(TextPart(block["text"]))
    elif kind in ("image_url", "image", "input_image"):
        message.content.append(_read_image(block, path))
    elif kind == "tool_use":
        if message.role != "assistant":
            raise _bad(path, "tool_use blocks belong to assistant messages")
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise _bad(path, "a tool_use block needs an id and a name")
        args = json.dumps(block.get("input") or {}, ensure_ascii=False)
        message.tool_calls.append(ToolCall(block["id"], block["name"], args))
    elif kind == "tool_result":
        call_id = block.get("tool_use_id")
        if not isinstance(call_id, str):
            raise _bad(f"{path}.tool_use_id", "a tool_result block needs the id of the call it answers")
        results.append(Message("tool", [TextPart(_text_of(block.get("content"), f"{path}.content"))],
                               tool_call_id=call_id, is_error=bool(block.get("is_error"))))
    elif kind in ("thinking", "redacted_thinking", "reasoning"):
        # The model's own reasoning echoed back, signed (Anthropic needs it on a turn that called
        # tools; Responses keeps its reasoning across calls only so): each builder writes it its way.
        if message.role == "assistant":
            reader = read_reasoning_item if kind == "reasoning" else read_thinking
            message.reasoning.append(reader(block, path))
    else:
        raise _bad(f"{path}.type", f"unsupported content part type {kind!r}")


def _read_image(block: dict[str, Any], path: str) -> Part:
    # OpenAI {"image_url": {"url"}} or {"image_url": "..."}; Anthropic {"source": {"type": "base64",
    # "media_type", "data"} | {"type": "url", "url"}}; AG-UI {"source": {"type": "data"|"url", "value"}}.
    url = block.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    if isinstance(url, str):
        return _image_from_url(url)
    source = block.get("source")
    if isinstance(source, dict):
        kind = source.get("type")
        if kind in ("base64", "data"):
            data = source.get("data", source.get("value"))
            mime = source.get("media_type", source.get("mimeType"))
            if isinstance(data, str) and isinstance(mime, str):
                return ImagePart(data=data, mime_type=mime)
        elif kind == "url":
            value = source.get("url", source.get("value"))
            if isinstance(value, str):
                return _image_from_url(value)
    raise _bad(path, "an image part needs a URL or base64 data with its media type")


def _image_from_url(url: str) -> ImagePart:
    if url.startswith("data:") and ";base64," in url:
        mime, data = url[5:].split(";base64,", 1)
        return ImagePart(data=data, mime_type=mime)
    return ImagePart(url=url)


def _text_of(content: Any, path: str) -> str:
    """Plain text of a string or of a list of text parts (tool results, system turns)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise _bad(f"{path}[{j}]", "expected a text part {type: \"text\", text}")
        return "".join(texts)
    if isinstance(content, (dict, int, float, bool)):
        return json.dumps(content, ensure_ascii=False)
    raise _bad(path, "must be a string or a list of text parts")
