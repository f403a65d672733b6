"""What every provider is: a request builder and a stream translator, with no I/O.

A provider module defines a :class:`Provider` subclass (most of them through
:class:`~agui_proxy.providers.http.HTTPProvider`) and registers it in
``agui_proxy/providers/registry.py``.  The shell opens what the provider builds (an
:class:`UpstreamRequest`, or a :class:`Recording` to play back), decodes the body into SSE
events, and feeds them to the provider's :class:`Translator`, which tells a
:class:`~agui_proxy.core.run.RunBuilder` what happened.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..core import fastjson
from ..core.conversation import Conversation, Message
from ..core.run import RunBuilder
from ..core.sse import SSEDecoder, SSEEvent
from ..core.translator import EventDecoder
from ..core.translator import Translator as Translator
from ..errors import UpstreamProtocolError


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """An HTTP request to a provider's streaming API."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def with_headers(self, extra: dict[str, str]) -> UpstreamRequest:
        """This request with those of ``extra`` (lowercased names) it does not have yet: its own
        headers (the key, the content type) win over forwarded ones, whatever their case."""
        own = {name.lower() for name in self.headers}
        added = {k: v for k, v in extra.items() if k not in own}
        if not added:
            return self
        return UpstreamRequest(self.method, self.url, {**self.headers, **added}, self.body, self.params)


@dataclass(frozen=True, slots=True)
class Recording:
    """A recorded provider stream, played back in ``chunk_size`` pieces ``interval`` seconds apart."""

    path: Path
    chunk_size: int
    interval: float

    def with_headers(self, extra: dict[str, str]) -> Recording:
        return self  # a recording has no one to send headers to


# What a provider builds for a conversation, and the shell opens (upstream/call.py open_source).
ProviderRequest = UpstreamRequest | Recording


class Provider(ABC):
    """A provider's strategy: the request for a conversation, and a translator for its answer.

    ``name`` is what a config's ``provider:`` says; ``family`` is its key in BranderUX's
    ``tools`` object.  :class:`~agui_proxy.providers.http.HTTPProvider` is the base of the
    providers spoken over HTTP; :class:`~agui_proxy.providers.replay.Replay` plays a recording.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    # The content type of the streamed answer, the one (besides a whole JSON answer) the shell takes.
    stream_content_type: ClassVar[str] = "text/event-stream"

    @property
    def wire_format(self) -> str:
        """The API the provider speaks (a whole JSON answer is read by it): its name, but for
        a provider that speaks another's API under its own name (Vertex's Gemini and Claude)."""
        return self.name

    def decoder(self, max_event_size: int) -> EventDecoder:
        """A fresh decoder of the answer's body into the events :meth:`translator` reads."""
        return SSEDecoder(max_event_size)

    @abstractmethod
    def build_request(self, conversation: Conversation) -> ProviderRequest:
        """What the shell opens for this conversation: an HTTP request or a recording to play.

        Raises :class:`~agui_proxy.errors.InboundError` (a 422 before any stream starts) for a
        conversation the provider's API cannot express, such as a media kind it does not take.
        """

    @abstractmethod
    def translator(self, run: RunBuilder) -> Translator:
        """A fresh translator for one response stream."""

    def error_message(self, status: int, body: bytes, content_type: str) -> str:
        """A short message for a non-2xx answer, from the provider's JSON error body if any.

        A body that echoes part of a key is not cleaned here: every message leaves through the
        config's one Redactor (the run's RUN_ERROR, the retry logs, the log filter)."""
        detail = describe_error_body(body, content_type)
        return f"upstream answered HTTP {status}" + (f": {detail}" if detail else "")

    def secrets(self) -> list[str]:
        """Values that must never reach a client or a log (keys, auth headers)."""
        return []


def describe_error_body(body: bytes, content_type: str) -> str:
    """The human part of an upstream error body: a JSON ``message`` or a note about HTML."""
    text = body[:4096].decode("utf-8", "replace").strip()
    if not text:
        return ""
    if "html" in content_type.lower() or text[:1] == "<":
        return "an HTML error page"
    try:
        payload = fastjson.loads(text)
        # error_text may dump part of the payload again; an error body nested past what the
        # standard library recurses into is the upstream's fault, reported by its raw text.
        return error_text(payload) or text[:300]
    except (ValueError, RecursionError):
        return text[:300]


def error_text(payload: Any) -> str:
    """``message`` from the shapes providers use: ``{"error": {"message"}}``, ``{"message"}``, lists."""
    if isinstance(payload, list) and payload:
        return error_text(payload[0])
    if not isinstance(payload, dict):
        return str(payload)[:300] if payload else ""
    error = payload.get("error", payload)
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type") or error.get("status") or error.get("code")
        if isinstance(message, str) and message:
            return f"{message} ({kind})" if isinstance(kind, str) and kind else message
        return json.dumps(error)[:300]
    if isinstance(error, str):
        return error
    return json.dumps(payload)[:300]


def parse_json_event(event: SSEEvent) -> dict[str, Any]:
    """The JSON object inside an SSE event, or a protocol error naming what came instead."""
    try:
        value = fastjson.loads(event.data)
    except ValueError:
        raise UpstreamProtocolError(f"upstream sent an event that is not JSON: {event.data[:80]!r}") from None
    if not isinstance(value, dict):
        raise UpstreamProtocolError(f"upstream sent a JSON {type(value).__name__} where an object belongs")
    return value


def count(value: Any) -> int | None:
    """A token count if ``value`` is a non-negative integer (providers send nulls and worse)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**53 - 1:
        return value
    return None


def alternating_turns(conversation: Conversation, blocks: Callable[[Message], list[dict[str, Any]]], *,
                      assistant: str = "assistant", key: str = "content") -> list[dict[str, Any]]:
    """The turns as ``{role: user|<assistant>, <key>: blocks}``, same-role neighbours merged, for
    the APIs that want user and assistant to alternate (Anthropic Messages, Bedrock Converse, and
    Gemini's ``model`` turns of ``parts``): the results of parallel calls and the user's next words
    go back in one user turn.  A message with no block is left out (an empty turn is refused)."""
    turns: list[dict[str, Any]] = []
    for message in conversation.messages:
        role = assistant if message.role == "assistant" else "user"
        found = blocks(message)
        if not found:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1][key].extend(found)
        else:
            turns.append({"role": role, key: found})
    return turns
