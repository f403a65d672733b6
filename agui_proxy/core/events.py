"""The AG-UI events agui-proxy emits (PROTOCOL.md section 2), as small immutable values.

Field names are snake_case here; the encoder writes the protocol's camelCase.  Optional fields
default to ``None`` and are left out on the wire, never written as ``null`` (most nulls are fatal
to ``@ag-ui/client``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ag_ui.core import PROTOCOL_VERSION

# ``metadata``: the AG-UI 1.0 open object the official client folds into the message it builds
# (``mergeMetadata``: key by key, the last write winning).  The proxy puts citations there
# (``metadata.citations`` on a text message's END); enrichers may add their own keys.  The
# per-token deltas (TEXT_MESSAGE_CONTENT, TOOL_CALL_ARGS, REASONING_MESSAGE_CONTENT) carry none,
# which keeps the encoder's fast path for them as it is.
Metadata = dict[str, Any]


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
    metadata: Metadata | None = None


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
    metadata: Metadata | None = None


@dataclass(frozen=True, slots=True)
class TextMessageContent:
    type: ClassVar[str] = "TEXT_MESSAGE_CONTENT"
    message_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class TextMessageEnd:
    type: ClassVar[str] = "TEXT_MESSAGE_END"
    message_id: str
    metadata: Metadata | None = None


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    type: ClassVar[str] = "TOOL_CALL_START"
    tool_call_id: str
    tool_call_name: str
    parent_message_id: str | None = None
    metadata: Metadata | None = None


@dataclass(frozen=True, slots=True)
class ToolCallArgs:
    type: ClassVar[str] = "TOOL_CALL_ARGS"
    tool_call_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    type: ClassVar[str] = "TOOL_CALL_END"
    tool_call_id: str
    metadata: Metadata | None = None


@dataclass(frozen=True, slots=True)
class ToolCallResult:
    """What a tool that ran outside the client returned, after its call: one the provider ran (web
    search, code execution; ``content`` is its JSON text) or one the proxy ran (a server tool,
    PROTOCOL.md section 6).  The official client makes it a ``tool`` message answering the call, so
    the next request carries it back like a result the client produced itself."""

    type: ClassVar[str] = "TOOL_CALL_RESULT"
    message_id: str
    tool_call_id: str
    content: str
    role: str = "tool"
    metadata: Metadata | None = None


@dataclass(frozen=True, slots=True)
class Custom:
    """AG-UI's ``CUSTOM`` event: a named value of the application's own (what an enricher may add)."""

    type: ClassVar[str] = "CUSTOM"
    name: str
    value: Any = None
    metadata: Metadata | None = None


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




@dataclass(frozen=True, slots=True)
class Citation:
    """One source the provider cited, in the shape every provider's citations are mapped to
    (``metadata.citations``, docs/provider-tools-and-citations.md).

    ``start`` / ``end`` are offsets into the text message's text in UTF-16 code units (as
    JavaScript counts a string), when the provider says which text the source supports.  A file
    citation has ``file_id`` (and its file name as ``title``) instead of a ``url``.
    """

    url: str | None
    title: str
    cited_text: str | None = None
    start: int | None = None
    end: int | None = None
    file_id: str | None = None


@dataclass(frozen=True, slots=True)
class CitationFound:
    """A citation of the text message ``message_id``, on its way to the citation enricher.

    Not an AG-UI event: the run emits it only when the run carries citations, the enricher
    (:mod:`agui_proxy.core.enrichers`) folds it into the message's metadata, and the pipeline
    drops whatever no enricher consumed before encoding.
    """

    type: ClassVar[str] = "CITATION_FOUND"
    message_id: str
    citation: Citation


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
    | Custom
    | StepStarted
    | StepFinished
    | ReasoningStart
    | ReasoningMessageStart
    | ReasoningMessageContent
    | ReasoningMessageEnd
    | ReasoningEnd
    | ReasoningEncryptedValue
    | CitationFound  # internal: consumed by the citation enricher, never encoded
)
