"""What every provider is: a request builder and a stream translator, with no I/O.

A provider module defines a :class:`Provider` subclass and registers it in
``agui_proxy/providers/__init__.py``.  The HTTP shell sends the :class:`UpstreamRequest` the
provider builds, decodes the response body into SSE events, and feeds them to the provider's
:class:`Translator`, which tells a :class:`~agui_proxy.core.run.RunBuilder` what happened.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..core import fastjson
from ..core.conversation import Conversation
from ..core.redact import redact
from ..core.run import RunBuilder
from ..core.sse import SSEEvent
from ..core.translator import Translator as Translator
from ..errors import UpstreamProtocolError


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    """The part of an upstream's config a provider needs (the shell keeps timeouts and such)."""

    base_url: str
    model: str
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    extra_body: dict[str, Any] = field(default_factory=dict)  # merged into every request body
    options: dict[str, Any] = field(default_factory=dict)  # provider-specific settings

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)


class Provider(ABC):
    """A provider's strategy.  ``family`` is its key in BranderUX's ``tools`` object."""

    name: ClassVar[str]
    family: ClassVar[str]

    def __init__(self, settings: UpstreamSettings) -> None:
        self.settings = settings

    @abstractmethod
    def build_request(self, conversation: Conversation) -> UpstreamRequest:
        """The streaming HTTP request for this conversation, with the provider's auth headers.

        Raises :class:`~agui_proxy.errors.InboundError` (a 422 before any stream starts) for a
        conversation the provider's API cannot express, such as a media kind it does not take.
        """

    @abstractmethod
    def translator(self, run: RunBuilder) -> Translator:
        """A fresh translator for one response stream."""

    def error_message(self, status: int, body: bytes, content_type: str) -> str:
        """A short message for a non-2xx answer, from the provider's JSON error body if any."""
        detail = describe_error_body(body, content_type)
        return redact(f"upstream answered HTTP {status}" + (f": {detail}" if detail else ""), self.secrets())

    def secrets(self) -> list[str]:
        """Values that must never reach a client or a log (keys, auth headers)."""
        values = [self.settings.api_key or ""]
        values += [v for k, v in self.settings.headers.items() if _looks_secret(k)]
        return [v for v in values if v]


def _looks_secret(header: str) -> bool:
    header = header.lower()
    return header in ("authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key") or (
        "key" in header or "token" in header or "secret" in header
    )


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
