"""Enrichers (core/enrichers.py) in the sans-I/O pipeline: what they see, what they add, and a
failing one that must not end the run."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pytest

from agui_proxy.core import events as ev
from agui_proxy.core.encoder import EventEncoder
from agui_proxy.core.enrichers import DEFAULT_ENRICHERS, CitationEnricher, EnrichContext, Enricher, with_metadata
from agui_proxy.core.pipeline import RunPipeline
from agui_proxy.core.run import RunBuilder

from ..providers import provider_tool_streams as streams
from ..support.agui_check import assert_valid_run, parse_frames, text_of
from ..support.harness import counter_ids, provider

OPERATOR_SOURCES = [{"url": "https://intranet.example.com/weather-policy", "title": "Our weather policy"}]


def run_with(enrichers: Iterable[Enricher], data: bytes, *, client: str = "agui") -> list[dict[str, Any]]:
    run = RunBuilder("thread_1", "run_1", id_factory=counter_ids())
    pipeline = RunPipeline(run, provider("openai-chat").translator, EventEncoder(clock=lambda: 1.0),
                           done_frame=False, enrichers=tuple(enrichers), client=client)
    body = pipeline.start() + b"".join(pipeline.feed(data[i:i + 50]) for i in range(0, len(data), 50))
    body += pipeline.close()
    events, _ = parse_frames(body)
    assert_valid_run(events)
    return events


def add_operator_sources(event: ev.Event, context: EnrichContext) -> Iterable[ev.Event] | None:
    """The docs' example: the operator's own links beside the provider's citations."""
    if isinstance(event, ev.TextMessageEnd):
        return [with_metadata(event, sources=OPERATOR_SOURCES)]
    return None


def announce_sources(event: ev.Event, context: EnrichContext) -> Iterable[ev.Event] | None:
    """Adds an event: a CUSTOM event after each text message, counting its citations."""
    if isinstance(event, ev.TextMessageEnd):
        cited = len((event.metadata or {}).get("citations", []))
        return [event, ev.Custom("sources", {"messageId": event.message_id, "count": cited,
                                             "client": context.client})]
    return None


def test_an_enricher_adds_an_event_after_the_citations_are_in() -> None:
    events = run_with((*DEFAULT_ENRICHERS, announce_sources), streams.chat_annotations())
    kinds = [e["type"] for e in events]
    assert kinds[-3:] == ["TEXT_MESSAGE_END", "CUSTOM", "RUN_FINISHED"]
    end, custom = events[-3], events[-2]
    assert len(end["metadata"]["citations"]) == 2
    assert custom["name"] == "sources" and custom["value"] == {"messageId": end["messageId"], "count": 2,
                                                               "client": "agui"}
    assert text_of(events) == streams.CHAT_TEXT


def test_metadata_of_the_operators_own_beside_the_citations() -> None:
    events = run_with((*DEFAULT_ENRICHERS, add_operator_sources), streams.chat_annotations())
    end = next(e for e in events if e["type"] == "TEXT_MESSAGE_END")
    assert end["metadata"]["sources"] == OPERATOR_SOURCES
    assert [c["url"] for c in end["metadata"]["citations"]] == [url for url, _, _ in streams.CHAT_CITED]


def test_an_enricher_that_raises_leaves_the_run_whole_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def broken(event: ev.Event, context: EnrichContext) -> Iterable[ev.Event] | None:
        calls.append(event.type)
        raise KeyError("a bug in the operator's enricher")

    with caplog.at_level(logging.ERROR, logger="agui_proxy.enrichers"):
        events = run_with((broken, *DEFAULT_ENRICHERS), streams.chat_annotations())
    assert len(calls) > 5, "it saw every event"
    assert events == run_with(DEFAULT_ENRICHERS, streams.chat_annotations()), "the run went on unchanged"
    failures = [r for r in caplog.records if r.name == "agui_proxy.enrichers"]
    assert len(failures) == 1 and "run_1" in failures[0].getMessage() and failures[0].exc_info is not None


def test_without_citations_the_citation_enricher_is_not_called() -> None:
    """A run without citations goes from the run to the encoder: no per-event call."""
    seen: list[str] = []

    class Counting(CitationEnricher):
        def __call__(self, event: ev.Event, context: EnrichContext) -> Iterable[ev.Event] | None:
            seen.append(event.type)
            return super().__call__(event, context)

    plain = streams.sse([streams.chunk({"content": "Hi 👋"}), streams.chunk({}, "stop")], done=True)
    events = run_with((Counting(),), plain)
    assert text_of(events) == "Hi 👋" and seen == []
    # Once a citation came, it sees the rest of the run.
    run_with((Counting(),), streams.chat_annotations())
    assert seen.count("CITATION_FOUND") == 2 and seen[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]


def test_citations_without_the_citation_enricher_never_reach_the_wire() -> None:
    events = run_with((), streams.chat_annotations())
    assert not [e for e in events if e.get("metadata")]
    assert text_of(events) == streams.CHAT_TEXT


def test_with_metadata_refuses_an_event_without_metadata() -> None:
    with pytest.raises(TypeError, match="TEXT_MESSAGE_CONTENT carries no metadata"):
        with_metadata(ev.TextMessageContent("m", "x"), a=1)
    merged = with_metadata(ev.TextMessageEnd("m", {"a": 1}), b=2)
    assert merged == ev.TextMessageEnd("m", {"a": 1, "b": 2})
