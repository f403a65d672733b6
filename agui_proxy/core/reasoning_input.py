"""The signed reasoning a BranderUX body carries back, in each provider's own shape.

A BranderUX frontend that keeps the provider's blocks sends them back as they came; each becomes
a :class:`ReasoningPart` of its assistant turn, the same neutral fields an AG-UI ``reasoning``
message with ``encryptedValue`` gives (:mod:`.agui_input`), so every provider's request builder
sees one thing whichever body kind the client sent:

- Anthropic ``{"type": "thinking", "thinking", "signature"}`` and
  ``{"type": "redacted_thinking", "data"}`` content blocks;
- an OpenAI Responses ``{"type": "reasoning", "id", "summary", "encrypted_content"}`` item, as a
  content block;
- OpenRouter's ``reasoning_details`` list on an OpenAI-style assistant message
  (``reasoning.text`` with ``signature``, ``reasoning.encrypted`` with ``data``,
  ``reasoning.summary``).
"""

from __future__ import annotations

from typing import Any

from ..errors import InboundError
from .conversation import ReasoningPart


def _bad(path: str, problem: str) -> InboundError:
    return InboundError(422, "invalid_request", f"{path}: {problem}")


def read_thinking(block: dict[str, Any], path: str) -> ReasoningPart:
    """An Anthropic ``thinking`` or ``redacted_thinking`` block."""
    if block["type"] == "redacted_thinking":
        if not isinstance(block.get("data"), str):
            raise _bad(f"{path}.data", "a redacted_thinking block needs its data string")
        return ReasoningPart(redacted_data=block["data"])
    text, signature = block.get("thinking", ""), block.get("signature")
    if not isinstance(text, str) or (signature is not None and not isinstance(signature, str)):
        raise _bad(path, "a thinking block has a string thinking and a string signature")
    return ReasoningPart(text=text, signature=signature or None)


def read_reasoning_item(block: dict[str, Any], path: str) -> ReasoningPart:
    """A Responses ``reasoning`` item: its summary texts joined, its encrypted content, its id."""
    encrypted, item_id = block.get("encrypted_content"), block.get("id")
    if (encrypted is not None and not isinstance(encrypted, str)) or (
            item_id is not None and not isinstance(item_id, str)):
        raise _bad(path, "a reasoning item has a string id and a string encrypted_content")
    summary = block.get("summary") or []
    if not isinstance(summary, list):
        raise _bad(f"{path}.summary", "must be a list of summary_text parts")
    texts = [p["text"] for p in summary if isinstance(p, dict) and isinstance(p.get("text"), str)]
    text = "\n\n".join(texts)
    if text:
        return ReasoningPart(text=text, signature=encrypted or None, id=item_id)
    return ReasoningPart(redacted_data=encrypted or None, id=item_id)


def read_reasoning_details(details: Any, path: str) -> list[ReasoningPart]:
    """OpenRouter's ``reasoning_details``, in order; a summary alone is text with no value."""
    if not isinstance(details, list):
        raise _bad(path, "must be a list of reasoning details")
    parts: list[ReasoningPart] = []
    for j, detail in enumerate(details):
        if not isinstance(detail, dict):
            raise _bad(f"{path}[{j}]", "a reasoning detail must be an object with a type")
        kind = detail.get("type")
        if kind == "reasoning.encrypted" and isinstance(detail.get("data"), str):
            parts.append(ReasoningPart(redacted_data=detail["data"], id=_str(detail.get("id"))))
        elif kind == "reasoning.text":
            parts.append(ReasoningPart(text=_str(detail.get("text")) or "", signature=_str(detail.get("signature")),
                                       id=_str(detail.get("id"))))
        elif kind == "reasoning.summary":
            parts.append(ReasoningPart(text=_str(detail.get("summary")) or "", id=_str(detail.get("id"))))
        else:
            raise _bad(f"{path}[{j}].type", f"unknown reasoning detail type {kind!r} "
                       "(reasoning.text, reasoning.encrypted, reasoning.summary)")
    return parts


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
