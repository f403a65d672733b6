"""The provider registry: a config's ``provider:`` name to the class that speaks it.

Adding a provider is a module and a row here (ARCHITECTURE.md: strategies in a registry).
``PROVIDERS`` are the server-sent-event formats, each spoken over HTTP (and each a format a
recording can be in); ``SOURCES`` is every ``provider:`` a config may name: those, the clouds'
(``bedrock``, AWS's event stream; ``vertex``, Gemini's and Anthropic's formats under Google
Cloud, the class picked by the model: ``vertex.py``) and ``replay``.
"""

from __future__ import annotations

from ..core.translator import Translator
from .anthropic import Anthropic
from .base import Provider, ProviderRequest, Recording, UpstreamRequest
from .bedrock import Bedrock, BedrockSettings
from .gemini import Gemini
from .http import HTTPProvider, UpstreamSettings
from .openai_chat import ChatSettings, OpenAIChat
from .openai_responses import OpenAIResponses
from .replay import Replay, ReplaySettings
from .vertex import VertexGemini, VertexSettings, vertex_provider

PROVIDERS: dict[str, type[HTTPProvider]] = {
    OpenAIChat.name: OpenAIChat,
    OpenAIResponses.name: OpenAIResponses,
    Anthropic.name: Anthropic,
    Gemini.name: Gemini,
}

SOURCES: dict[str, type[Provider]] = {**PROVIDERS, Bedrock.name: Bedrock, VertexGemini.name: VertexGemini,
                                      Replay.name: Replay}

__all__ = ["PROVIDERS", "SOURCES", "Bedrock", "BedrockSettings", "ChatSettings", "HTTPProvider", "Provider",
           "ProviderRequest", "Recording", "Replay", "ReplaySettings", "Translator", "UpstreamRequest",
           "UpstreamSettings", "VertexSettings", "vertex_provider"]
