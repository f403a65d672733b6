"""The provider registry: a config's ``provider:`` name to the class that speaks it, and the one
place a provider is built from an upstream's typed settings (``agui_proxy/config/upstreams.py``).

Adding a provider is its module, a row here and its small settings model in the config (the
fields its upstream model adds to ``HTTPUpstream`` are its own options, handed on by name to its
``settings_class``).  ``PROVIDERS`` are the wire formats, each spoken over HTTP (and each a format
a recording can be in); ``SOURCES`` is every ``provider:`` a config may name: those, and ``replay``.
"""

from __future__ import annotations

from typing import Any

from ..config.upstreams import HTTPUpstream, ReplayUpstream, UpstreamConfig
from .anthropic import Anthropic
from .base import Provider
from .gemini import Gemini
from .http import HTTPProvider
from .openai_chat import OpenAIChat
from .openai_responses import OpenAIResponses
from .replay import Replay, ReplaySettings

PROVIDERS: dict[str, type[HTTPProvider]] = {
    OpenAIChat.name: OpenAIChat,
    OpenAIResponses.name: OpenAIResponses,
    Anthropic.name: Anthropic,
    Gemini.name: Gemini,
}

SOURCES: dict[str, type[Provider]] = {**PROVIDERS, Replay.name: Replay}


def build_provider(upstream: UpstreamConfig, model: str | None = None) -> Provider:
    """The provider strategy for ``upstream`` (``model``: one the route lets the client pick)."""
    if isinstance(upstream, ReplayUpstream):
        return Replay(ReplaySettings(upstream.file, PROVIDERS[upstream.format], upstream.model or "replay",
                                     upstream.chunk_size, upstream.interval))
    cls = PROVIDERS[upstream.provider]
    return cls(cls.settings_class(**http_settings(upstream, model)))


def http_settings(upstream: HTTPUpstream, model: str | None = None) -> dict[str, Any]:
    """What a provider spoken over HTTP reads of its upstream: the shared settings, and the options
    its kind of upstream adds (``max_tokens_param`` of ``openai-chat``)."""
    shared = HTTPUpstream.model_fields
    own = {name: getattr(upstream, name) for name in type(upstream).model_fields if name not in shared}
    return {"base_url": upstream.base_url, "model": model or upstream.model, "api_key": upstream.api_key,
            "headers": dict(upstream.headers), "query": dict(upstream.query), "extra_body": dict(upstream.body),
            **own}
