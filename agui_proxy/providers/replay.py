"""``provider: replay``: a recorded provider stream played back instead of an upstream.

The embedded default answers with one (``recordings/demo-openai-chat.sse``).  The recording is
read by the shell (upstream/call.py opens the :class:`~agui_proxy.providers.base.Recording`
this builds) and goes through the same decoder and translator as a live answer in its
``format``, so what a client sees is what that provider would have produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.conversation import Conversation
from ..core.run import RunBuilder
from ..core.translator import Translator
from .base import Provider, Recording
from .http import HTTPProvider, UpstreamSettings


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    file: Path
    format: type[HTTPProvider]  # the provider the recording was made from, whose translator reads it
    model: str = "replay"
    chunk_size: int = 64
    interval: float = 0.02


class Replay(Provider):
    name = "replay"
    family = "replay"  # a recording reads none of the request's tools

    def __init__(self, settings: ReplaySettings) -> None:
        self.settings = settings
        self._recorded = settings.format(UpstreamSettings(base_url="http://replay.invalid", model=settings.model))

    def build_request(self, conversation: Conversation) -> Recording:
        s = self.settings
        return Recording(s.file, s.chunk_size, s.interval)

    def translator(self, run: RunBuilder) -> Translator:
        return self._recorded.translator(run)
