"""The providers: each speaks one upstream API, as a strategy the core runs (ARCHITECTURE.md).

The registry (``registry.py``) names them and builds one from an upstream's typed settings.
"""

from __future__ import annotations

from ..core.translator import Translator
from .base import Provider, ProviderRequest, Recording, UpstreamRequest
from .http import HTTPProvider, UpstreamSettings
from .openai_chat import ChatSettings
from .registry import PROVIDERS, SOURCES, build_provider
from .replay import Replay, ReplaySettings

__all__ = ["PROVIDERS", "SOURCES", "ChatSettings", "HTTPProvider", "Provider", "ProviderRequest", "Recording", "Replay",
           "ReplaySettings", "Translator", "UpstreamRequest", "UpstreamSettings", "build_provider"]
