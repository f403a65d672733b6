"""Google Vertex AI: Gemini, and Anthropic's Claude, under a Google Cloud project.

Both are the direct APIs' bodies and streams under Vertex's paths, so they reuse the Gemini and
Anthropic request builders and translators:

- Gemini: ``POST {base_url}/v1/projects/{project}/locations/{location}/publishers/google/models/
  {model}:streamGenerateContent?alt=sse``;
- ``claude-*`` models: ``POST .../publishers/anthropic/models/{model}:streamRawPredict``, the
  Messages body with ``anthropic_version: vertex-2023-10-16`` in it and no ``model`` (the path
  names it), answered with Anthropic's own event stream.

``base_url`` is ``https://{location}-aiplatform.googleapis.com`` (``https://aiplatform.googleapis.com``
for the ``global`` location) unless the config gives another endpoint.  No key goes in the
request: the shell adds an OAuth access token from Application Default Credentials on its way out
(``agui_proxy/upstream/clouds/gcp.py``), since it expires and is refreshed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..core.conversation import Conversation
from .anthropic import Anthropic
from .gemini import Gemini
from .http import HTTPProvider, UpstreamSettings

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


@dataclass(frozen=True, slots=True)
class VertexSettings(UpstreamSettings):
    project: str = ""
    location: str = ""

    def publisher_path(self, publisher: str) -> str:
        return (f"/v1/projects/{quote(self.project, safe='')}/locations/{quote(self.location, safe='')}"
                f"/publishers/{publisher}/models/{quote(self.model, safe='-._~@')}")


def vertex_endpoint(location: str) -> str:
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def is_claude(model: str) -> bool:
    """Claude models are served by the ``anthropic`` publisher; every other model by ``google``."""
    return model.startswith("claude-")


class VertexGemini(Gemini):
    name = "vertex"
    settings_class = VertexSettings

    @property
    def wire_format(self) -> str:
        return Gemini.name

    def request_path(self) -> str:
        assert isinstance(self.settings, VertexSettings)
        return self.settings.publisher_path("google") + ":streamGenerateContent"

    def provider_headers(self) -> dict[str, str]:
        return {}  # the access token is the shell's to add


class VertexAnthropic(Anthropic):
    name = "vertex"
    settings_class = VertexSettings

    @property
    def wire_format(self) -> str:
        return Anthropic.name

    def request_path(self) -> str:
        assert isinstance(self.settings, VertexSettings)
        return self.settings.publisher_path("anthropic") + ":streamRawPredict"

    def provider_headers(self) -> dict[str, str]:
        return {}  # the version is in the body; the access token is the shell's to add

    def request_body(self, conversation: Conversation) -> dict[str, Any]:
        body = super().request_body(conversation)
        del body["model"]
        return {"anthropic_version": VERTEX_ANTHROPIC_VERSION, **body}


def vertex_provider(settings: VertexSettings) -> HTTPProvider:
    """Vertex's provider for the model: Anthropic's publisher for Claude, Google's otherwise."""
    return VertexAnthropic(settings) if is_claude(settings.model) else VertexGemini(settings)
