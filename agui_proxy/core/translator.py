"""The interface between a provider's stream format and a run."""

from __future__ import annotations

from typing import Protocol

from .sse import SSEEvent


class EventDecoder(Protocol):
    """Bytes of an upstream body in, the events a translator reads out: the SSE decoder
    (``sse.py``), or AWS's event stream read as events (``eventstream.py``)."""

    @property
    def truncated(self) -> bool: ...

    def feed(self, chunk: bytes) -> list[SSEEvent]: ...

    def close(self) -> list[SSEEvent]: ...


class Translator(Protocol):
    """Feeds one provider's decoded SSE events into a :class:`~agui_proxy.core.run.RunBuilder`.

    ``feed`` raises an :class:`~agui_proxy.errors.RunError` for an error the provider
    reports in-band; ``close`` is called at the end of the body (``truncated`` when the last
    event was not terminated by a blank line) and must finish the run or raise.
    """

    def feed(self, event: SSEEvent) -> None: ...

    def close(self, truncated: bool) -> None: ...
