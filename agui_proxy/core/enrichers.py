"""Enrichers: callables that see each AG-UI event of a run and may add events or metadata.

An enricher is called as ``enricher(event, context)`` for every event of a run, in order, after
the run made it and before it is encoded.  It returns ``None`` to let the event through as it is,
or the events to send in its place: the event itself with more metadata
(:func:`with_metadata`), the event and events of its own after it (a ``CUSTOM`` event), or
nothing.  ``context`` is the enricher's own for the run: the run's ids, which kind of client
asked (``"agui"`` or ``"branderux"``), and a ``state`` dict to keep what it needs between events.

Enrichers run in the order given, each on what the one before it let through.  One that raises
is skipped for that event (the event goes on unchanged) and the run goes on; its first error in a
run is logged, once.  The events it adds must keep the run valid (PROTOCOL.md section 2): a
``CUSTOM`` event or metadata anywhere; whole messages only between other messages.

The citations of every provider reach the client through the first enricher,
:class:`CitationEnricher`: the run hands it each citation (:class:`~.events.CitationFound`) and
it puts the message's list on that message's ``TEXT_MESSAGE_END`` as ``metadata.citations``
(docs/provider-tools-and-citations.md).  It has nothing to do in a run without citations, so
such a run does not pass through the enrichers at all unless others are configured.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import events as ev

log = logging.getLogger("agui_proxy.enrichers")


@dataclass(slots=True)
class EnrichContext:
    """One enricher's view of one run."""

    thread_id: str
    run_id: str
    client: str  # "agui" or "branderux": the kind of body that started the run
    state: dict[Any, Any] = field(default_factory=dict)


Enricher = Callable[[ev.Event, EnrichContext], Iterable[ev.Event] | None]


def with_metadata(event: ev.Event, **entries: Any) -> ev.Event:
    """``event`` with ``entries`` added to its ``metadata`` (key by key, as the client merges).

    Raises ``TypeError`` for an event that carries no metadata (the per-token deltas)."""
    if not any(f.name == "metadata" for f in dataclasses.fields(event)):
        raise TypeError(f"{event.type} carries no metadata")
    current: dict[str, Any] = getattr(event, "metadata", None) or {}
    changed: ev.Event = dataclasses.replace(event, metadata={**current, **entries})  # type: ignore[arg-type]
    return changed


def citation_wire(citation: ev.Citation) -> dict[str, Any]:
    """One citation in the documented shape: ``{url, title, citedText?, start?, end?}`` (a file
    citation has ``fileId`` instead of ``url``)."""
    wire: dict[str, Any] = {}
    if citation.url is not None:
        wire["url"] = citation.url
    if citation.file_id is not None:
        wire["fileId"] = citation.file_id
    wire["title"] = citation.title
    if citation.cited_text:
        wire["citedText"] = citation.cited_text
    if citation.start is not None and citation.end is not None:
        wire["start"], wire["end"] = citation.start, citation.end
    return wire


class CitationEnricher:
    """Puts each text message's citations on its ``TEXT_MESSAGE_END`` as ``metadata.citations``
    (the whole list, in the order they came, each once)."""

    idle_until_cited = True  # a run without citations gives it nothing to do

    def __call__(self, event: ev.Event, context: EnrichContext) -> Iterable[ev.Event] | None:
        cls = type(event)
        if cls is ev.CitationFound:
            found: ev.CitationFound = event  # type: ignore[assignment]
            cited = context.state.setdefault(found.message_id, [])
            wire = citation_wire(found.citation)
            if wire not in cited:
                cited.append(wire)
            return ()
        if cls is ev.TextMessageEnd:
            citations = context.state.pop(event.message_id, None)  # type: ignore[union-attr]
            if citations:
                return (with_metadata(event, citations=citations),)
        return None


DEFAULT_ENRICHERS: tuple[Enricher, ...] = (CitationEnricher(),)


class EnricherChain:
    """The enrichers of one run, each with its own context."""

    def __init__(self, enrichers: Sequence[Enricher], *, thread_id: str, run_id: str, client: str) -> None:
        self._stages = [(enricher, EnrichContext(thread_id, run_id, client)) for enricher in enrichers]
        # Whether every event must pass: some enricher wants to see runs without citations too.
        self.eager = any(not getattr(enricher, "idle_until_cited", False) for enricher in enrichers)
        self._failed: set[int] = set()

    def apply(self, events: list[ev.Event]) -> list[ev.Event]:
        for number, (enricher, context) in enumerate(self._stages):
            out: list[ev.Event] = []
            for event in events:
                try:
                    added = enricher(event, context)
                except Exception:  # an enricher's bug must not end the run
                    self._failed_once(number, enricher, context)
                    added = None
                if added is None:
                    out.append(event)
                else:
                    out.extend(added)
            events = out
        # Citations no enricher folded in (none configured to): not AG-UI events, never sent.
        return [event for event in events if type(event) is not ev.CitationFound]

    def _failed_once(self, number: int, enricher: Enricher, context: EnrichContext) -> None:
        if number not in self._failed:
            self._failed.add(number)
            log.exception("enricher %s failed in run %s (its later errors in this run are not logged)",
                          getattr(enricher, "__qualname__", type(enricher).__qualname__), context.run_id)
