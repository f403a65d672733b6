"""The AG-UI events agui-proxy emits (PROTOCOL.md section 2), as small immutable values.

Field names are snake_case here; the encoder writes the protocol's camelCase.  Optional fields
default to ``None`` and are left out on the wire, never written as ``null`` (most nulls are fatal
to ``@ag-ui/client``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ag_ui.core import PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """One ``TokenUsage`` entry of ``RUN_FINISHED.usage``.

    AG-UI's accounting: ``input_tokens`` and ``output_tokens`` are totals; reasoning and cached
    tokens are parts of them, never additions.
    """

    provider: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class RunStarted:
    """Opens a run.  ``protocol_version`` is the producer's own declaration, which the AG-UI 1.0
    spec says a producer of that version must send on this event (``ag_ui.core.version``)."""

    type: ClassVar[str] = "RUN_STARTED"
    thread_id: str
    run_id: str
    parent_run_id: str | None = None
    protocol_version: str | None = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class RunFinished:
    type: ClassVar[str] = "RUN_FINISHED"
    thread_id: str
    run_id: str
    result: Any = None
    usage: tuple[TokenUsage, ...] | None = None
    # AG-UI 1.0 ``RunFinishedOutcome``: ``{"type": "interrupt", "interrupts": [...]}`` when the run
    # waits for a person (a server tool to approve, docs/server-tools.md); absent means success.
    outcome: Any = None


@dataclass(frozen=True, slots=True)
class RunError:
    type: ClassVar[str] = "RUN_ERROR"
    message: str
    code: str


@dataclass(frozen=True, slots=True)
class TextMessageStart:
    type: ClassVar[str] = "TEXT_MESSAGE_START"
    message_id: str
    role: str = "assistant"


@dataclass(frozen=True, slots=True)
class TextMessageContent:
    type: ClassVar[str] = "TEXT_MESSAGE_CONTENT"
    message_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class TextMessageEnd:
    type: ClassVar[str] = "TEXT_MESSAGE_END"
    message_id: str


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    type: ClassVar[str] = "TOOL_CALL_START"
    tool_call_id: str
    tool_call_name: str
    parent_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallArgs:
    type: ClassVar[str] = "TOOL_CALL_ARGS"
    tool_call_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    type: ClassVar[str] = "TOOL_CALL_END"
    tool_call_id: str


@dataclass(frozen=True, slots=True)
class ToolCallResult:
    """What a tool the proxy ran returned (PROTOCOL.md section 6); the client keeps it as a
    ``tool`` message, so the next request carries it back like a result it produced itself."""

    type: ClassVar[str] = "TOOL_CALL_RESULT"
    message_id: str
    tool_call_id: str
    content: str
    role: str = "tool"


@dataclass(frozen=True, slots=True)
class StepStarted:
    """One upstream call of a run that takes several (a run with server-side tools)."""

    type: ClassVar[str] = "STEP_STARTED"
    step_name: str


@dataclass(frozen=True, slots=True)
class StepFinished:
    type: ClassVar[str] = "STEP_FINISHED"
    step_name: str


@dataclass(frozen=True, slots=True)
class ReasoningStart:
    type: ClassVar[str] = "REASONING_START"
    message_id: str


@dataclass(frozen=True, slots=True)
class ReasoningMessageStart:
    type: ClassVar[str] = "REASONING_MESSAGE_START"
    message_id: str
    role: str = "reasoning"


@dataclass(frozen=True, slots=True)
class ReasoningMessageContent:
    type: ClassVar[str] = "REASONING_MESSAGE_CONTENT"
    message_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ReasoningMessageEnd:
    type: ClassVar[str] = "REASONING_MESSAGE_END"
    message_id: str


@dataclass(frozen=True, slots=True)
class ReasoningEnd:
    type: ClassVar[str] = "REASONING_END"
    message_id: str


@dataclass(frozen=True, slots=True)
class ReasoningEncryptedValue:
    """A provider's opaque reasoning artefact (a thinking signature) to send back next turn."""

    type: ClassVar[str] = "REASONING_ENCRYPTED_VALUE"
    subtype: str  # "message" or "tool-call"
    entity_id: str
    encrypted_value: str


Event = (
    RunStarted
    | RunFinished
    | RunError
    | TextMessageStart
    | TextMessageContent
    | TextMessageEnd
    | ToolCallStart
    | ToolCallArgs
    | ToolCallEnd
    | ToolCallResult
    | StepStarted
    | StepFinished
    | ReasoningStart
    | ReasoningMessageStart
    | ReasoningMessageContent
    | ReasoningMessageEnd
    | ReasoningEnd
    | ReasoningEncryptedValue
)
