"""One AG-UI run as a state machine that cannot emit an invalid sequence.

Every provider translator speaks to a :class:`RunBuilder` in terms of what happened upstream
(some text, the start of a tool call, a reasoning fragment, the end); the builder opens and
closes AG-UI messages around those happenings so the rules the official client enforces
(``verifyEvents``, PROTOCOL.md section 2) always hold:

- ``RUN_STARTED`` first; nothing after ``RUN_FINISHED`` / ``RUN_ERROR``;
- CONTENT/ARGS/END only for an id that is open; never a second START for an open id;
- everything open is closed before ``RUN_FINISHED`` and before ``RUN_ERROR``.

Tools the provider runs itself (web search, code execution) are tool calls with a
``TOOL_CALL_RESULT`` (:meth:`RunBuilder.provider_tool_start`, :meth:`RunBuilder.tool_result`), for
runs that show them (AG-UI bodies); the results of tools the proxy runs (``steps.py``) take the
same way out.  Citations of the open text message
(:meth:`RunBuilder.citation`) go out as :class:`~.events.CitationFound`, which the citation
enricher folds into the message's metadata (:mod:`.enrichers`), for runs that carry them.

Text, reasoning and tool calls do not overlap: starting one closes an open message of another
kind (text, then a tool call, then text again gives two text messages with two ids).  Several
tool calls may be open at once (OpenAI streams parallel calls by index).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from typing import Any

from . import events as ev
from .offsets import utf16_len


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


# Stop reasons every provider's own value is mapped to, for ``RUN_FINISHED.result``.
END_TURN = "end_turn"
TOOL_USE = "tool_use"
MAX_TOKENS = "max_tokens"


class RunBuilder:
    """Collects the AG-UI events of one run; :meth:`take` hands over what is ready."""

    def __init__(
        self,
        thread_id: str,
        run_id: str,
        *,
        reasoning: bool = True,
        id_factory: Callable[[str], str] = new_id,
        parent_run_id: str | None = None,
        provider_tools: bool = True,
        citations: bool = True,
    ) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self._reasoning_enabled = reasoning
        self._new_id = id_factory
        self._out: list[ev.Event] = [ev.RunStarted(thread_id, run_id, parent_run_id)]
        self._text_id: str | None = None
        self._reasoning_id: str | None = None
        # The assistant message tool calls hang off (parentMessageId): the latest text message.
        self._parent_id: str | None = None
        self._tools: dict[Hashable, str] = {}  # open tool calls: translator's key -> toolCallId
        self._used_tool_ids: set[str] = set()
        self._used_reasoning_ids: set[str] = set()
        self._signed: set[str] = set()  # reasoning messages that have their encrypted value
        self._tools_without_args: set[str] = set()
        self._provider_tools = provider_tools
        self._citations = citations
        self._text_parts: list[str] = []  # the open text message's text, kept only for citations
        self._early_citations: list[ev.Citation] = []  # cited before their text message opened
        self.cited = False  # a citation went out: the citation enricher has work in this run
        self.ended = False  # no more events from this upstream answer
        # The run ended (RUN_FINISHED or RUN_ERROR): for a run of one upstream call, with ``ended``;
        # a run of several (``steps.py``) ends its steps' answers first.  An attribute, read per chunk.
        self.over = False
        # What RUN_FINISHED reported, for the shell's metrics, access log and traces.
        self.usage: ev.TokenUsage | None = None
        self.finish_reason: str | None = None  # the provider's own stop reason, else the AG-UI one

    def take(self) -> list[ev.Event]:
        out, self._out = self._out, []
        return out

    @property
    def pending(self) -> bool:
        """Whether events are waiting to be taken."""
        return bool(self._out)

    # -- text -------------------------------------------------------------------------------

    def text(self, delta: str) -> None:
        if not delta or self.ended:
            return
        if self._text_id is None:
            self._open_text()
        self._out.append(ev.TextMessageContent(self._text_id, delta))  # type: ignore[arg-type]
        if self._citations:
            self._text_parts.append(delta)

    def _open_text(self) -> None:
        self._close_reasoning()
        self._text_id = self._parent_id = self._new_id("msg")
        self._out.append(ev.TextMessageStart(self._text_id))
        self._text_parts = []
        early, self._early_citations = self._early_citations, []
        for citation in early:
            self._cite(self._text_id, citation)

    # -- citations --------------------------------------------------------------------------

    def text_offset(self) -> int:
        """Where the open text message's text ends, in UTF-16 units (0 before it opens)."""
        return utf16_len("".join(self._text_parts)) if self._text_id is not None else 0

    def message_text(self) -> str:
        """The open text message's text so far ("" before it opens; kept only when citing)."""
        return "".join(self._text_parts) if self._text_id is not None else ""

    def citation(self, citation: ev.Citation) -> None:
        """A source the provider cited for the open text message (or, before any is open, for the
        next one: Anthropic names the sources of a text block before its text)."""
        if not self._citations or self.ended:
            return
        if self._text_id is None:
            self._early_citations.append(citation)
        else:
            self._cite(self._text_id, citation)

    def _cite(self, message_id: str, citation: ev.Citation) -> None:
        self.cited = True
        self._out.append(ev.CitationFound(message_id, citation))

    def _close_text(self) -> None:
        if self._text_id is not None:
            self._out.append(ev.TextMessageEnd(self._text_id))
            self._text_id = None

    # -- reasoning --------------------------------------------------------------------------

    def reasoning(self, delta: str, *, item_id: str | None = None) -> None:
        """A reasoning fragment.  ``item_id`` is the provider's own id of the reasoning, if any."""
        if not delta or self.ended or not self._reasoning_enabled:
            return
        rid = self._open_reasoning(item_id)
        self._out.append(ev.ReasoningMessageContent(rid, delta))

    def reasoning_signature(self, value: str, *, item_id: str | None = None) -> None:
        """An opaque signature of the current (or just closed) reasoning, for the next turn."""
        if not value or self.ended or not self._reasoning_enabled:
            return
        if self._reasoning_id is not None and self._reasoning_id in self._signed:
            # The client keeps one value per message (a second would replace the first), and
            # each value goes back as its own block: a second one is a reasoning message of its own.
            self._close_reasoning()
        rid = self._reasoning_id or self._open_reasoning(item_id)
        self._signed.add(rid)
        self._out.append(ev.ReasoningEncryptedValue("message", rid, value))

    def end_reasoning(self) -> None:
        self._close_reasoning()

    def _open_reasoning(self, item_id: str | None = None) -> str:
        """Open a reasoning message, named by the provider's item id when it gave one.

        The client sends the message back under that id with its encrypted value, and some
        providers want the id with the value (a Responses ``reasoning`` item's ``id``).  A tool
        call after the reasoning hangs off a new assistant message, so that the client keeps the
        reasoning before the turn that made the call, as the provider requires it back.
        """
        if self._reasoning_id is None:
            self._close_text()
            if item_id and item_id not in self._used_reasoning_ids:
                rid = item_id
            else:
                rid = self._new_id("rsn")
            self._used_reasoning_ids.add(rid)
            self._reasoning_id = rid
            self._parent_id = None
            self._out.append(ev.ReasoningStart(rid))
            self._out.append(ev.ReasoningMessageStart(rid))
        return self._reasoning_id

    def _close_reasoning(self) -> None:
        if self._reasoning_id is not None:
            rid, self._reasoning_id = self._reasoning_id, None
            self._out.append(ev.ReasoningMessageEnd(rid))
            self._out.append(ev.ReasoningEnd(rid))

    # -- tool calls -------------------------------------------------------------------------

    def tool_start(self, key: Hashable, tool_call_id: str | None, name: str) -> str:
        """Open a tool call under ``key``; returns the toolCallId used on the wire.

        A missing id is generated; an id already used in this run is made unique, so two
        calls never share one (some OpenAI-compatible servers number every call ``"0"``).
        """
        if self.ended:
            return tool_call_id or ""
        self.tool_end(key)
        self._close_text()
        self._close_reasoning()
        call_id = tool_call_id or self._new_id("call")
        if call_id in self._used_tool_ids:
            call_id = f"{call_id}_{len(self._used_tool_ids)}"
        self._used_tool_ids.add(call_id)
        if self._parent_id is None:
            self._parent_id = self._new_id("msg")
        self._tools[key] = call_id
        self._tools_without_args.add(call_id)
        self._out.append(ev.ToolCallStart(call_id, name, self._parent_id))
        return call_id

    def provider_tool_start(self, key: Hashable, tool_call_id: str | None, name: str) -> str | None:
        """A call of a tool the provider runs itself: a tool call for runs that show them, else
        nothing at all (``None``; its arguments, end and result are then ignored too)."""
        if not self._provider_tools:
            return None
        return self.tool_start(key, tool_call_id, name)

    def tool_result(self, tool_call_id: str | None, content: str, value: str | None = None, *,
                    server: bool = False) -> None:
        """``TOOL_CALL_RESULT``: what a tool that ran outside the client returned, after its call.

        One way out for both kinds.  A call the provider ran (web search, code execution) gets its
        result while the upstream answer streams, in runs that show provider tools: ``content`` is
        JSON text, ``value`` the opaque value the client keeps on the call and sends back with it
        (provider_tools.py).  With ``server``, a call the proxy ran (a server tool, ``steps.py``)
        gets its result after the step that made it, or refused it; a later step may follow.
        """
        if self.over or not tool_call_id:
            return
        if not server and (not self._provider_tools or self.ended):
            return
        for key, call_id in list(self._tools.items()):
            if call_id == tool_call_id:
                self.tool_end(key)
        self._close_text()  # text after the result is a message after it
        if value:
            self._out.append(ev.ReasoningEncryptedValue("tool-call", tool_call_id, value))
        self._out.append(ev.ToolCallResult(self._new_id("result"), tool_call_id, content))

    def tool_args(self, key: Hashable, delta: str) -> None:
        call_id = self._tools.get(key)
        if delta and call_id is not None:
            self._tools_without_args.discard(call_id)
            self._out.append(ev.ToolCallArgs(call_id, delta))

    def tool_end(self, key: Hashable) -> None:
        call_id = self._tools.pop(key, None)
        if call_id is not None:
            if call_id in self._tools_without_args:
                # A call with no arguments streams none (or only ""); the client would be left
                # with "" for its arguments, which is not JSON.  The call's input is {}.
                self._tools_without_args.discard(call_id)
                self._out.append(ev.ToolCallArgs(call_id, "{}"))
            self._out.append(ev.ToolCallEnd(call_id))

    def tool_signature(self, key: Hashable, value: str) -> None:
        """An opaque value that belongs to the open tool call ``key`` (Gemini's thoughtSignature).

        Sent as ``REASONING_ENCRYPTED_VALUE`` with subtype ``tool-call``, so the client stores it
        on that call (AG-UI ``ToolCall.encryptedValue``) and sends it back with it.  Kept when
        reasoning is turned off: it is part of the call, and Gemini 3 refuses a later turn whose
        calls lack their signatures.
        """
        call_id = self._tools.get(key)
        if value and call_id is not None and not self.ended:
            self._out.append(ev.ReasoningEncryptedValue("tool-call", call_id, value))

    def tool_is_open(self, key: Hashable) -> bool:
        return key in self._tools

    def tool_id(self, key: Hashable) -> str | None:
        """The toolCallId of the open tool call ``key``."""
        return self._tools.get(key)

    # -- the end ----------------------------------------------------------------------------

    def _close_all(self) -> None:
        self._close_text()
        self._close_reasoning()
        for key in list(self._tools):
            self.tool_end(key)

    def finish(self, *, stop_reason: str | None = None, provider_stop_reason: str | None = None,
               usage: ev.TokenUsage | None = None) -> None:
        if self.ended:
            return
        self._close_all()
        result: dict[str, Any] | None = None
        if stop_reason or provider_stop_reason:
            result = {"stopReason": stop_reason or provider_stop_reason}
            if provider_stop_reason:
                result["providerStopReason"] = provider_stop_reason
        self._out.append(ev.RunFinished(self.thread_id, self.run_id, result, (usage,) if usage else None))
        self.usage = usage
        self.finish_reason = provider_stop_reason or stop_reason
        self.ended = self.over = True

    def fail(self, message: str, code: str) -> None:
        if self.ended:
            return
        self._close_all()
        self._out.append(ev.RunError(message, code))
        self.ended = self.over = True
