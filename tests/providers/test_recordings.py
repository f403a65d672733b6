"""Every recorded provider stream through its provider's translator, as one table over
(provider, recording): exact content against a plain reading of the recording, the same events
whole, byte by byte and split at every offset (a seeded sample of offsets for long recordings),
and each provider's own checks (reasoning off; Chat Completions' usage and finish reason).

A provider's row names the folders of ``../shared/fixtures/provider-streams`` in its wire format
and its module under ``recorded/``: how its recordings read plainly and what the translator must
make of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agui_proxy.providers import PROVIDERS

from ..support.agui_check import parse_frames
from ..support.harness import assert_split_invariant, provider
from ..support.recordings import recording_paths, skip_reason
from .recorded import anthropic, gemini, openai_chat, openai_responses

Check = Callable[[Path], None]


@dataclass(frozen=True)
class RecordedProvider:
    name: str  # in the provider registry
    folders: tuple[str, ...]  # its recordings' folders
    content: Check  # the exact content of a recording, fed whole
    without_reasoning: Check | None = None  # the route option that drops reasoning
    end: Check | None = None  # usage, finish reason and signatures where the content check leaves them


TABLE = (
    RecordedProvider("openai-chat", ("openai-chat", "openai-compatible"), openai_chat.check_content,
                     end=openai_chat.check_usage_stop_reason_and_signatures),
    RecordedProvider("openai-responses", ("openai-responses",), openai_responses.check_content,
                     without_reasoning=openai_responses.check_without_reasoning),
    RecordedProvider("anthropic", ("anthropic",), anthropic.check_content,
                     without_reasoning=anthropic.check_without_reasoning),
    RecordedProvider("gemini", ("gemini",), gemini.check_content, without_reasoning=gemini.check_without_reasoning),
)


def cases(having: Callable[[RecordedProvider], Any] = lambda row: True) -> list[Any]:
    """``pytest.param(row, path)`` per recording of the rows ``having`` picks, id
    ``provider:folder/name``; one skipped param when the recordings are absent."""
    params = [pytest.param(row, path, id=f"{row.name}:{path.parent.name}/{path.stem}")
              for row in TABLE if having(row) for path in recording_paths(*row.folders)]
    return params or [pytest.param(None, None, marks=pytest.mark.skip(reason=skip_reason()), id="no-recordings")]


@pytest.mark.parametrize(("row", "path"), cases())
def test_recording_translates_to_exact_content(row: RecordedProvider, path: Path) -> None:
    row.content(path)


@pytest.mark.parametrize(("row", "path"), cases())
def test_recording_same_events_for_every_split(row: RecordedProvider, path: Path) -> None:
    whole = assert_split_invariant(provider(row.name), path.read_bytes())
    events, done = parse_frames(whole)
    assert done and events[0]["type"] == "RUN_STARTED"


@pytest.mark.parametrize(("row", "path"), cases(lambda row: row.without_reasoning))
def test_recording_without_reasoning(row: RecordedProvider, path: Path) -> None:
    assert row.without_reasoning is not None
    row.without_reasoning(path)


@pytest.mark.parametrize(("row", "path"), cases(lambda row: row.end))
def test_recording_usage_stop_reason_and_signatures(row: RecordedProvider, path: Path) -> None:
    assert row.end is not None
    row.end(path)


def test_every_registered_provider_has_a_row() -> None:
    assert sorted(row.name for row in TABLE) == sorted(PROVIDERS)
