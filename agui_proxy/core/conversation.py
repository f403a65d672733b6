"""The neutral model of a conversation.

Every inbound form (BranderUX ``params``, the flat body, AG-UI ``RunAgentInput``) is read into a
:class:`Conversation`, and every provider's request is written from one.  It holds what the
providers can express: a system prompt, turns of text, images and other media, assistant tool
calls with their ids, tool results linked to those ids, tool definitions, a token budget and a
tool choice, and the opaque reasoning values (signatures) some providers need back on later turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .provider_tools import ProviderCall

Role = Literal["user", "assistant", "tool"]


@dataclass(slots=True)
class TextPart:
    text: str


@dataclass(slots=True)
class ImagePart:
    """An image, either by URL or inline (base64 ``data`` with its ``mime_type``)."""

    url: str | None = None
    data: str | None = None
    mime_type: str | None = None


MediaKind = Literal["audio", "video", "document"]


@dataclass(slots=True)
class MediaPart:
    """Audio, video or a document (a PDF, a text file), by URL or inline (base64 ``data``).

    AG-UI user messages carry these (PROTOCOL.md section 1); each provider writes the kinds its
    API takes and refuses the others with an :class:`~agui_proxy.errors.InboundError`.
    """

    kind: MediaKind
    url: str | None = None
    data: str | None = None
    mime_type: str | None = None
    filename: str | None = None


Part = TextPart | ImagePart | MediaPart


@dataclass(slots=True)
class ReasoningPart:
    """The model's own reasoning on an earlier assistant turn, sent back with that turn.

    Only the provider's opaque value makes reasoning worth sending back: each provider takes it
    in its own place (Anthropic ``thinking`` blocks with their ``signature`` or
    ``redacted_thinking`` with its ``data``; Responses ``reasoning`` items with
    ``encrypted_content``; Gemini ``thoughtSignature``; OpenRouter ``reasoning_details``).  Both
    body kinds are read into these same fields: a BranderUX body's provider-shaped blocks, and an
    AG-UI ``reasoning`` message whose ``encryptedValue`` the proxy itself emitted.
    """

    text: str = ""
    signature: str | None = None  # the value that signs ``text`` (Anthropic's thinking signature)
    redacted_data: str | None = None  # a value with no readable text (Anthropic's redacted_thinking)
    # The provider's own id of the reasoning (a Responses ``rs_...`` item id), when known.
    id: str | None = None

    @property
    def opaque(self) -> str | None:
        """The provider's opaque value, whichever kind it is."""
        return self.signature or self.redacted_data


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # the JSON text of the arguments, as the model streamed it
    # An opaque value the provider attached to the call (Gemini's thoughtSignature, AG-UI's
    # ToolCall.encryptedValue); Gemini 3 refuses a history whose calls lack theirs.
    signature: str | None = None


@dataclass(slots=True)
class Message:
    """One turn.  ``tool`` turns carry a result for ``tool_call_id`` (``name`` when known)."""

    role: Role
    content: list[Part] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    reasoning: list[ReasoningPart] = field(default_factory=list)  # assistant turns only
    # Tools the provider ran on this turn (web search, ...), sent back only where the provider
    # needs them (core/provider_tools.py); never in ``tool_calls``.
    provider_calls: list[ProviderCall] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@dataclass(slots=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(slots=True)
class ToolChoice:
    """``auto`` (the model decides), ``any`` (must call one), ``none``, or ``tool`` (``name``)."""

    type: Literal["auto", "any", "none", "tool"]
    name: str | None = None


@dataclass(slots=True)
class Conversation:
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    # Tool lists the client gave already in a provider's own format, by provider family
    # ("openai", "anthropic", "gemini"): used as they are when the route's provider matches.
    native_tools: dict[str, list[Any]] = field(default_factory=dict)
    # Tools the proxy runs itself (an MCP server's, docs/server-tools.md), offered after the
    # client's in every provider's request; the client never sees their definitions.
    server_tools: list[Tool] = field(default_factory=list)
    max_tokens: int = 4000
    tool_choice: ToolChoice | None = None
    # The model the client asked for (``params.model``); the shell honours it only when the
    # route lists it in ``allow_models`` (PROTOCOL.md section 1), and refuses it otherwise.
    requested_model: str | None = None

    def tool_name_for(self, tool_call_id: str) -> str | None:
        """The name of the tool an earlier assistant turn called with this id."""
        for message in self.messages:
            for call in message.tool_calls:
                if call.id == tool_call_id:
                    return call.name
        return None
