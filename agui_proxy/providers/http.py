"""What every provider spoken over HTTP shares: its settings, the request it builds, and the one
merge of the upstream's configured ``headers``, ``body`` and ``query`` into that request.

A provider says only what is its own (:meth:`HTTPProvider.request_path`,
:meth:`~HTTPProvider.provider_headers` such as its auth header, :meth:`~HTTPProvider.request_body`);
:meth:`HTTPProvider.build_request` puts them together with the config's extras in the same way for
every provider.  The config wins wherever both set the same thing: a configured header replaces
the provider's header of the same name (names compare case-insensitively, so a configured
``Authorization`` replaces the one ``api_key`` makes instead of being sent beside it), and the
configured ``body`` is merged object by object (``stream_options: {...}`` keeps the
``include_usage`` the proxy asks for unless the config sets that key itself).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..core.conversation import Conversation
from .base import Provider, UpstreamRequest

# What every streaming request says about itself, before the provider's and the config's headers.
_BASE_HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    """The part of an upstream's config a provider needs (the shell keeps timeouts and such)."""

    base_url: str
    model: str
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    extra_body: dict[str, Any] = field(default_factory=dict)  # merged into every request body

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


class HTTPProvider(Provider):
    """A provider whose upstream is a streaming HTTP API."""

    # The settings class this provider reads (a provider with options of its own subclasses it).
    settings_class: ClassVar[type[UpstreamSettings]] = UpstreamSettings

    def __init__(self, settings: UpstreamSettings) -> None:
        self.settings = settings

    @abstractmethod
    def request_path(self) -> str:
        """The path after ``base_url`` that streams an answer."""

    @abstractmethod
    def request_body(self, conversation: Conversation) -> dict[str, Any]:
        """The JSON body for this conversation, before the config's ``body`` is merged in.

        Raises :class:`~agui_proxy.errors.InboundError` (a 422 before any stream starts) for a
        conversation the provider's API cannot express, such as a media kind it does not take.
        """

    @abstractmethod
    def provider_headers(self) -> dict[str, str]:
        """The provider's own headers: its auth header (when a key is configured) and the like."""

    def request_query(self) -> dict[str, str]:
        """Query parameters the provider's API needs (the config's ``query`` goes on top)."""
        return {}

    def build_request(self, conversation: Conversation) -> UpstreamRequest:
        s = self.settings
        body = merge_body(self.request_body(conversation), s.extra_body)
        headers = merge_headers({**_BASE_HEADERS, **self.provider_headers()}, s.headers)
        return UpstreamRequest("POST", s.url(self.request_path()), headers,
                               json.dumps(body, ensure_ascii=False).encode(), {**self.request_query(), **s.query})

    def secrets(self) -> list[str]:
        values = [self.settings.api_key or ""]
        values += [v for k, v in self.settings.headers.items() if _looks_secret(k)]
        return [v for v in values if v]


def bearer_auth(api_key: str | None) -> dict[str, str]:
    """``Authorization: Bearer <key>`` when a key is configured (OpenAI's APIs and those that copy them)."""
    return {"authorization": f"Bearer {api_key}"} if api_key else {}


def merge_body(body: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` merged into ``body`` in place: nested objects key by key, anything else replaced.

    Requests nest their settings (Gemini's ``generationConfig.thinkingConfig`` beside the
    ``generationConfig.maxOutputTokens`` the request carries; Chat Completions'
    ``stream_options.include_usage``), so a plain ``dict.update`` would drop what the request
    needs.  The config wins wherever both set the same leaf.
    """
    for key, value in extra.items():
        current = body.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            body[key] = merge_body(dict(current), value)
        else:
            body[key] = value
    return body


def merge_headers(headers: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with the config's ``extra`` on top.  Names compare case-insensitively, so a
    configured ``Anthropic-Version`` or ``Authorization`` replaces the provider's instead of being
    sent beside it."""
    configured = {name.lower() for name in extra}
    out = {k: v for k, v in headers.items() if k.lower() not in configured}
    out.update(extra)
    return out


def _looks_secret(header: str) -> bool:
    header = header.lower()
    return header in ("authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key") or (
        "key" in header or "token" in header or "secret" in header
    )
