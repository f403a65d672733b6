"""Where the recorded provider streams live, and how tests pick them up.

The recordings are the shared corpus beside the checkout (``../shared/fixtures/provider-streams``),
never copies inside the project.  When that folder is absent (a checkout on its own), every test
that needs it is skipped with a reason that says where it looked.  ``AGUI_PROXY_SHARED`` points
elsewhere when the corpus lives in another place.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("AGUI_PROXY_SHARED", REPO.parent / "shared"))
STREAMS = SHARED / "fixtures" / "provider-streams"
PROVIDER_DIRS = ("openai-chat", "openai-compatible", "openai-responses", "anthropic", "gemini")


def skip_reason() -> str:
    return f"the shared provider recordings are not at {STREAMS} (set AGUI_PROXY_SHARED)"


def recording_paths(*dirs: str) -> list[Path]:
    """Every ``.sse`` recording under the given provider folders (all of them when none)."""
    if not STREAMS.is_dir():
        return []
    found: list[Path] = []
    for name in dirs or PROVIDER_DIRS:
        found.extend(sorted((STREAMS / name).glob("*.sse")))
    return found


def recording_params(*dirs: str) -> list[object]:
    """``pytest.param`` per recording, id ``folder/name``; one skipped param when absent."""
    paths = recording_paths(*dirs)
    if not paths:
        return [pytest.param(None, marks=pytest.mark.skip(reason=skip_reason()), id="no-recordings")]
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in paths]


def recorded_file(relative: str) -> Path:
    """The shared recording at ``relative`` (``anthropic/text-basic.sse``); the calling test is
    skipped with the reason when the recordings are absent."""
    path = STREAMS / relative
    if not path.is_file():
        pytest.skip(skip_reason())
    return path


def recorded_request(relative: str) -> dict[str, Any]:
    """A recorded ``*.request.json`` (the request a provider was sent: its ``body`` and more), read."""
    return dict(json.loads(recorded_file(relative).read_text()))


def split_offsets(length: int, *, every_up_to: int = 4096, sample: int = 200, seed: int = 1) -> list[int]:
    """Offsets to split a transcript of ``length`` bytes at.

    Short transcripts are split at every offset; long ones at a seeded sample (every offset of a
    200 KB recording is quadratic work), always including both ends.
    """
    if length <= every_up_to:
        return list(range(length + 1))
    rng = random.Random(seed + length)
    picked = set(rng.sample(range(1, length), min(sample, length - 1)))
    return sorted(picked | {0, length})
