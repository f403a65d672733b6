"""A whole, non-streamed answer as the events its stream would have been, for the same translator.

Some gateways and mocks answer a streaming request with ``200 application/json`` and the whole
completion (LiteLLM's ``mock_response`` on ``/v1/messages`` does).  Rather than a second
translation per provider, each body is rewritten here as the SSE events the provider streams for
that answer (FORMATS.md sections 1 to 5), and those go through the provider's own stream
translator: the client gets the same events, in the same order, that the stream would have given
(only the text arrives in one delta per part instead of many).  No I/O.

- Chat Completions ``chat.completion``: one chunk whose ``delta`` is each choice's ``message``
  (reasoning, content, refusal, annotations, ``tool_calls`` numbered by ``index``), a chunk with the
  ``finish_reason`` and ``usage``, then ``[DONE]``.
- Responses ``response``: per output item ``response.output_item.added``, its text, refusal,
  summary or reasoning-text deltas (a text's annotations after it), ``response.output_item.done``;
  then ``response.completed``,
  ``.incomplete`` or ``.failed`` after the response's ``status``.
- Anthropic ``message``: ``message_start``, a ``content_block_start`` / ``_delta`` / ``_stop``
  per block (text, its citations first, tool input as one ``input_json_delta``, thinking and its signature, redacted
  thinking, server blocks as they are), ``message_delta`` with the stop reason and usage,
  ``message_stop``.
- Gemini ``GenerateContentResponse``: already the shape of one stream event (a JSON array of
  them, the endpoint's answer without ``alt=sse``, is each of them).

A body of the provider's error shape (``{"error": ...}``, Anthropic's ``{"type": "error"}``)
passes as the one event it would be in a stream, so it ends the run with the provider's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..core import fastjson
from ..core.sse import SSEEvent
from ..errors import UpstreamProtocolError

Converter = Callable[[Any], list[SSEEvent]]


def whole_response_events(provider: str, body: bytes) -> list[SSEEvent]:
    """The stream events of a whole answer from the provider named ``provider`` (its config name)."""
    convert = CONVERTERS.get(provider)
    if convert is None:
        raise UpstreamProtocolError(f"the upstream answered with a whole JSON body, which {provider} does not send")
    try:
        payload = fastjson.loads(body.decode("utf-8", "replace"))
    except ValueError:
        raise UpstreamProtocolError("the upstream answered application/json that is not JSON") from None
    if not isinstance(payload, (dict, list)):
        raise UpstreamProtocolError(f"the upstream answered a JSON {type(payload).__name__}, not a response object")
    return convert(payload)


def _event(payload: dict[str, Any], name: str = "") -> SSEEvent:
    return SSEEvent(json.dumps(payload, ensure_ascii=False), name)


def _typed(kind: str, **fields: Any) -> SSEEvent:
    """An event of the formats that name it twice (``event: <type>`` and ``"type"`` in the data)."""
    return _event({"type": kind, **fields}, kind)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise UpstreamProtocolError("the upstream answered a JSON list where one response object belongs")
    return payload


# -- Chat Completions ---------------------------------------------------------------------------

_DELTA_FIELDS = ("role", "reasoning_content", "reasoning", "reasoning_details", "content", "refusal", "annotations")


def chat_events(payload: Any) -> list[SSEEvent]:
    body = _object(payload)
    if body.get("error") is not None:
        return [_event(body)]
    # ``citations``: a compatible server's URL list (Perplexity), top-level as in its stream.
    head: dict[str, Any] = {k: body[k] for k in ("id", "object", "created", "model", "citations") if k in body}
    deltas, finishes = [], []
    for choice in _list(body.get("choices")):
        choice = _dict(choice)
        message = _dict(choice.get("message"))
        delta = {k: message[k] for k in _DELTA_FIELDS if message.get(k) is not None}
        calls = [c for c in _list(message.get("tool_calls")) if isinstance(c, dict)]
        if calls:
            delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(calls)]
        index = choice.get("index", 0)
        deltas.append({"index": index, "delta": delta, "finish_reason": None})
        finishes.append({"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")})
    return [_event({**head, "choices": deltas}),
            _event({**head, "choices": finishes, "usage": body.get("usage")}),
            SSEEvent("[DONE]")]


# -- Responses ----------------------------------------------------------------------------------


def responses_events(payload: Any) -> list[SSEEvent]:
    body = _object(payload)
    if body.get("type") == "error" or (body.get("error") is not None and "output" not in body):
        return [_typed("error", error=body.get("error", body))]
    events = [_typed("response.created", response={**body, "status": "in_progress", "output": []})]
    for index, item in enumerate(_list(body.get("output"))):
        if isinstance(item, dict):
            events.extend(_output_item(index, item))
    status = body.get("status")
    terminal = {"incomplete": "response.incomplete", "failed": "response.failed"}.get(
        status if isinstance(status, str) else "", "response.completed")
    events.append(_typed(terminal, response=body))
    return events


def _output_item(index: int, item: dict[str, Any]) -> list[SSEEvent]:
    item_id = item.get("id") if isinstance(item.get("id"), str) else f"item_{index}"
    at = {"item_id": item_id, "output_index": index}
    events = [_typed("response.output_item.added", output_index=index, item=item)]
    kind = item.get("type")
    if kind == "message":
        for j, part in enumerate(_list(item.get("content"))):
            part = _dict(part)
            if part.get("type") == "output_text" and part.get("text"):
                events.append(_typed("response.output_text.delta", **at, content_index=j, delta=part["text"]))
                events.extend(_typed("response.output_text.annotation.added", **at, content_index=j,
                                     annotation_index=k, annotation=a)
                              for k, a in enumerate(_list(part.get("annotations"))))
            elif part.get("type") == "refusal" and part.get("refusal"):
                events.append(_typed("response.refusal.delta", **at, content_index=j, delta=part["refusal"]))
    elif kind == "reasoning":
        for k, part in enumerate(_list(item.get("summary"))):
            if _dict(part).get("text"):
                events.append(_typed("response.reasoning_summary_text.delta", **at, summary_index=k,
                                     delta=part["text"]))
        for j, part in enumerate(_list(item.get("content"))):
            if _dict(part).get("type") == "reasoning_text" and part.get("text"):
                events.append(_typed("response.reasoning_text.delta", **at, content_index=j, delta=part["text"]))
    events.append(_typed("response.output_item.done", output_index=index, item=item))
    return events


# -- Anthropic Messages -------------------------------------------------------------------------


def anthropic_events(payload: Any) -> list[SSEEvent]:
    body = _object(payload)
    if body.get("type") == "error":
        return [_event(body, "error")]
    start = {**body, "content": [], "stop_reason": None, "stop_sequence": None}
    events = [_typed("message_start", message=start)]
    for index, block in enumerate(_list(body.get("content"))):
        if isinstance(block, dict):
            events.extend(_content_block(index, block))
    delta = {"stop_reason": body.get("stop_reason"), "stop_sequence": body.get("stop_sequence")}
    events.append(_typed("message_delta", delta=delta, usage=body.get("usage")))
    events.append(_typed("message_stop"))
    return events


def _content_block(index: int, block: dict[str, Any]) -> list[SSEEvent]:
    kind = block.get("type")
    deltas: list[dict[str, Any]] = []
    start = block
    if kind == "text":
        start, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": block.get("text", "")}]
        if isinstance(block.get("citations"), list):  # a cited block: its sources before its text, as streamed
            start = {**start, "citations": []}
            deltas[:0] = [{"type": "citations_delta", "citation": c} for c in block["citations"]]
    elif kind == "tool_use":
        start = {**block, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {},
                                                                            ensure_ascii=False)}]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": block.get("thinking", "")}]
        if block.get("signature"):
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
    # redacted_thinking and server blocks: whole in their start event, as they stream
    return [_typed("content_block_start", index=index, content_block=start),
            *(_typed("content_block_delta", index=index, delta=d) for d in deltas),
            _typed("content_block_stop", index=index)]


# -- Gemini -------------------------------------------------------------------------------------


def gemini_events(payload: Any) -> list[SSEEvent]:
    chunks = payload if isinstance(payload, list) else [payload]
    return [_event(chunk) for chunk in chunks if isinstance(chunk, dict)]


CONVERTERS: dict[str, Converter] = {
    "openai-chat": chat_events,
    "openai-responses": responses_events,
    "anthropic": anthropic_events,
    "gemini": gemini_events,
}
