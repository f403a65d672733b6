"""The tools a provider runs itself (web search, web fetch, code execution), across turns.

A provider-run call reaches an AG-UI client as ``TOOL_CALL_START/ARGS/END`` and
``TOOL_CALL_RESULT`` (:class:`~agui_proxy.core.run.RunBuilder`), and the official client keeps it
as an assistant tool call answered by a ``tool`` message.  On the next turn it sends both back,
like a call of its own tools; but the provider must not see them as such (it would look for a
function it was never given).  So the proxy marks the call with an opaque value
(``REASONING_ENCRYPTED_VALUE`` subtype ``tool-call``, which the client stores on the call as
``encryptedValue`` and sends back, as it does for signatures): :func:`provider_tool_value`.

The value names the provider family and holds what that provider needs back (Anthropic's
``web_search_tool_result`` block with its ``encrypted_content``; nothing for the others).  Read
back (:func:`read_provider_tool_value`), the call becomes a :class:`ProviderCall` of its turn
instead of a tool call, and the ``tool`` message that answers it is dropped: each provider's
request builder sends what its API takes back (Anthropic: the blocks) and leaves out the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MARK = "agui-proxy.provider-tool.v1:"


@dataclass(slots=True)
class ProviderCall:
    """A call the provider ran on an earlier turn, as the client sent it back."""

    id: str
    name: str
    arguments: str
    family: str  # "anthropic", "openai", "gemini"
    # Provider blocks that go back after the call (Anthropic: the tool's result block).
    blocks: list[dict[str, Any]] = field(default_factory=list)


def provider_tool_value(family: str, blocks: list[dict[str, Any]] | None = None) -> str:
    """The opaque value that marks a provider-run call (and carries what goes back with it)."""
    return MARK + json.dumps({"family": family, "blocks": blocks or []}, ensure_ascii=False, separators=(",", ":"))


def read_provider_tool_value(value: str | None) -> tuple[str, list[dict[str, Any]]] | None:
    """``(family, blocks)`` from a value :func:`provider_tool_value` made; ``None`` for any other
    value (a Gemini thought signature, a value the proxy did not write)."""
    if not value or not value.startswith(MARK):
        return None
    try:
        data = json.loads(value[len(MARK):])
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("family"), str):
        return None
    blocks = data.get("blocks")
    return data["family"], [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []
