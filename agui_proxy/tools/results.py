"""What a server tool call gave: :class:`ToolOutcome`, and an MCP result as the model reads it.

Every way a call can end is an outcome, never an exception (docs/server-tools.md, "Failures"):
the model reads an error result and can say so or try something else, the client gets a
``TOOL_CALL_RESULT`` saying the same, and the run goes on.  ``status`` is what metrics and the
access log count: ``ok``, ``error`` (the tool reported one, or the server refused the call),
``timeout``, ``too_large`` (over ``max_result_bytes``), ``unavailable`` (the server is down or
went away), ``declined`` (the user said no).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["ok", "error", "timeout", "too_large", "unavailable", "declined"]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    text: str  # what the model reads, and the client's TOOL_CALL_RESULT content
    status: Status = "ok"

    @property
    def is_error(self) -> bool:
        return self.status != "ok"


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One call the proxy ran (or declined), for the metrics, the access log and the spans.
    ``started`` and ``ended`` are ``time.monotonic()`` readings."""

    server: str
    tool: str
    call_id: str
    outcome: Status
    started: float
    ended: float


def failed(status: Status, text: str) -> ToolOutcome:
    return ToolOutcome(f"Error: {text}", status)


def result_text(content: list[Any], structured: Any, *, is_error: bool, limit: int, tool: str) -> ToolOutcome:
    """An MCP ``CallToolResult``'s content as one text, capped at ``limit`` bytes of UTF-8.

    Text blocks are joined by newlines; other blocks (images, resources) are written as their
    JSON, which a model can read; with no content, the structured content as JSON.  A result
    past the cap is not cut (a cut JSON document misleads more than it helps): the model reads
    that it was too large.
    """
    parts: list[str] = []
    size = 0
    for block in content:
        text = getattr(block, "text", None) if getattr(block, "type", None) == "text" else None
        if not isinstance(text, str):
            dump = getattr(block, "model_dump_json", None)
            text = dump(by_alias=True, exclude_none=True) if callable(dump) else json.dumps(block, default=str)
        size += len(text.encode("utf-8", "replace")) + 1
        if size > limit:
            return _too_large(tool, limit)
        parts.append(text)
    if not parts and structured is not None:
        text = json.dumps(structured, ensure_ascii=False, default=str)
        if len(text.encode("utf-8", "replace")) > limit:
            return _too_large(tool, limit)
        parts.append(text)
    text = "\n".join(parts)
    if is_error:
        return ToolOutcome(f"Error: {text}" if text else f"Error: {tool} failed", "error")
    return ToolOutcome(text)


def _too_large(tool: str, limit: int) -> ToolOutcome:
    return failed("too_large", f"the result of {tool} is larger than {limit} bytes and was not sent")
