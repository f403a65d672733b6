"""Bedrock's ConverseStream events into a run (the Converse API reference, "ConverseStreamOutput").

    messageStart  (contentBlockStart? contentBlockDelta* contentBlockStop)*  messageStop  metadata

Each arrives as one event-stream message, read into an event named by its ``:event-type``
(``core/eventstream.py``).  Content blocks are numbered by ``contentBlockIndex``; only a tool use
has a ``contentBlockStart`` (its ``toolUseId`` and ``name``), text and reasoning blocks begin with
their first delta:

- ``delta.text``: answer text;
- ``delta.toolUse.input``: a fragment of the tool call's JSON arguments;
- ``delta.reasoningContent``: ``text`` (reasoning), ``signature`` (what the client must send back
  to continue, as ``REASONING_ENCRYPTED_VALUE``) or ``redactedContent`` (reasoning the model
  encrypted, base64: sent the same way).

``messageStop`` gives the stop reason; the ``metadata`` event after it carries the usage, and ends
the run.  An ``exception`` message in the stream (``throttlingException`` ...) is an error the
same service would otherwise answer with an HTTP status: it fails the run with that status's error
(so one before any output is retried exactly as the status would be).
"""

from __future__ import annotations

from typing import Any

from ..core.events import TokenUsage
from ..core.run import END_TURN, MAX_TOKENS, TOOL_USE, RunBuilder
from ..core.sse import SSEEvent
from ..errors import ContentFiltered, RunError, UpstreamReportedError, http_error
from .base import count, error_text, parse_json_event
from .translator_base import TranslatorBase, handles, token_usage

_STOP_REASONS = {
    "end_turn": END_TURN,
    "stop_sequence": END_TURN,
    "tool_use": TOOL_USE,
    "max_tokens": MAX_TOKENS,
    "model_context_window_exceeded": MAX_TOKENS,
}
# A guardrail or the model's own filter stopped the response: not a model choice.
_FILTERED = frozenset({"guardrail_intervened", "content_filtered"})

# The HTTP status each of ConverseStream's modelled exceptions carries when it is the answer
# instead (the API reference, "Errors"); in the stream it fails the run as that status would.
EXCEPTION_STATUS = {
    "throttlingException": 429,
    "validationException": 400,
    "serviceUnavailableException": 503,
    "internalServerException": 500,
}

_TEXT, _TOOL, _REASONING = "text", "tool", "reasoning"


def exception_error(exception_type: str, payload: dict[str, Any]) -> RunError:
    """The run's error for an in-stream exception: the error of its HTTP status, or for one
    without a status of its own (``modelStreamErrorException``, types to come) an
    ``upstream_error`` that names it."""
    detail = error_text(payload) if payload else ""
    message = f"upstream reported {exception_type}" + (f": {detail}" if detail else "")
    status = EXCEPTION_STATUS.get(exception_type)
    if status is None:
        return UpstreamReportedError(message)
    return http_error(status, message)


class BedrockTranslator(TranslatorBase):
    end_marker = "messageStop and metadata"

    def __init__(self, run: RunBuilder, *, model: str) -> None:
        super().__init__(run, model=model)
        self._blocks: dict[int, str] = {}  # open content blocks: index -> kind
        self._stop_reason: str | None = None
        self._stopped = False  # messageStop seen: the metadata that follows ends the run

    def feed(self, event: SSEEvent) -> None:
        kind = event.event
        if kind.startswith(("exception:", "error:")):
            payload = _json_or_text(event)
            raise exception_error(kind.split(":", 1)[1], payload)
        self.dispatch(kind, parse_json_event(event))

    def close(self, truncated: bool) -> None:
        if self._stopped and not self._run.ended:
            # messageStop came, its metadata did not: the answer is whole, its usage unknown.
            self._finish(None)
        super().close(truncated)

    @handles("contentBlockStart")
    def _block_start(self, payload: dict[str, Any]) -> None:
        index, start = payload.get("contentBlockIndex"), payload.get("start")
        if not isinstance(index, int) or not isinstance(start, dict):
            return
        tool = start.get("toolUse")
        if isinstance(tool, dict):
            self._open(index, _TOOL)
            self._run.tool_start(index, _str(tool.get("toolUseId")) or None, _str(tool.get("name")))

    @handles("contentBlockDelta")
    def _block_delta(self, payload: dict[str, Any]) -> None:
        index, delta = payload.get("contentBlockIndex"), payload.get("delta")
        if not isinstance(index, int) or not isinstance(delta, dict):
            return
        run = self._run
        if isinstance(delta.get("text"), str):
            self._open(index, _TEXT)
            run.text(delta["text"])
        elif isinstance(delta.get("toolUse"), dict):
            if self._blocks.get(index) == _TOOL:
                run.tool_args(index, _str(delta["toolUse"].get("input")))
        elif isinstance(delta.get("reasoningContent"), dict):
            self._open(index, _REASONING)
            reasoning = delta["reasoningContent"]
            if isinstance(reasoning.get("text"), str):
                run.reasoning(reasoning["text"])
            for opaque in ("signature", "redactedContent"):
                if isinstance(reasoning.get(opaque), str) and reasoning[opaque]:
                    run.reasoning_signature(reasoning[opaque])
        # citations, images and delta kinds to come: nothing to show

    @handles("contentBlockStop")
    def _block_stop(self, payload: dict[str, Any]) -> None:
        index = payload.get("contentBlockIndex")
        if isinstance(index, int):
            self._close_block(index)

    @handles("messageStop")
    def _message_stop(self, payload: dict[str, Any]) -> None:
        for index in list(self._blocks):
            self._close_block(index)
        reason = payload.get("stopReason")
        self._stop_reason = reason if isinstance(reason, str) else None
        self._stopped = True
        if self._stop_reason in _FILTERED:
            raise ContentFiltered(f"the provider's safety filter stopped the response (stopReason {reason})")

    @handles("metadata")
    def _metadata(self, payload: dict[str, Any]) -> None:
        usage = payload.get("usage")
        if self._stopped:
            self._finish(bedrock_usage(usage, self._model) if isinstance(usage, dict) else None)

    def _finish(self, usage: TokenUsage | None) -> None:
        raw = self._stop_reason
        self._run.finish(stop_reason=_STOP_REASONS.get(raw or ""), provider_stop_reason=raw, usage=usage)

    def _open(self, index: int, kind: str) -> None:
        if index not in self._blocks:
            self._blocks[index] = kind

    def _close_block(self, index: int) -> None:
        kind = self._blocks.pop(index, None)
        if kind == _TOOL:
            self._run.tool_end(index)
        elif kind == _REASONING:
            self._run.end_reasoning()


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_or_text(event: SSEEvent) -> dict[str, Any]:
    try:
        return parse_json_event(event)
    except RunError:
        return {"message": event.data[:300]}


def bedrock_usage(usage: dict[str, Any], model: str) -> TokenUsage:
    """Converse's counts in AG-UI's accounting: ``inputTokens`` leaves out the tokens read from
    and written to the prompt cache, which AG-UI counts inside its input (as for Anthropic)."""
    base = count(usage.get("inputTokens"))
    cache_read = count(usage.get("cacheReadInputTokens"))
    cache_write = count(usage.get("cacheWriteInputTokens"))
    return token_usage(
        "bedrock", model,
        input_tokens=None if base is None else base + (cache_read or 0) + (cache_write or 0),
        output_tokens=count(usage.get("outputTokens")),
        reported_total=count(usage.get("totalTokens")),
        cached_input_tokens=cache_read,
        cache_write_input_tokens=cache_write,
    )
