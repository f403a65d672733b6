"""The provider registry: a config's ``provider:`` name to the class that speaks it.

Adding a provider is a module and a row here (ARCHITECTURE.md: strategies in a registry).
"""

from __future__ import annotations

from ..core.translator import Translator
from .anthropic import Anthropic
from .base import Provider, UpstreamRequest, UpstreamSettings
from .gemini import Gemini
from .openai_chat import OpenAIChat
from .openai_responses import OpenAIResponses

PROVIDERS: dict[str, type[Provider]] = {
    OpenAIChat.name: OpenAIChat,
    OpenAIResponses.name: OpenAIResponses,
    Anthropic.name: Anthropic,
    Gemini.name: Gemini,
}

__all__ = ["PROVIDERS", "Provider", "Translator", "UpstreamRequest", "UpstreamSettings"]
