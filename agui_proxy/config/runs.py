"""The config of resumable runs (docs/resumable-runs.md): a route's ``resumable:`` and ``runs:``.

A route with ``resumable:`` keeps the frames of each run in the store (``store.url``: a Redis
Stream per run; without it, this process's memory), so a client that lost its connection can come
back for the rest (``GET <route path>/runs/<runId>``).  Every bound here is a cap on memory: a run
past ``max_frames`` or ``max_bytes`` ends with ``RUN_ERROR`` code ``run_too_large``, and past
``runs.max_kept`` runs (or ``runs.max_kept_per_identity`` of one identity's) the oldest ended runs
are dropped, never a running one: with none ended, a new run is refused (503 or 429 with
Retry-After).  In memory, past ``runs.max_bytes`` of frames the oldest ended runs go, and with none
ended the run that would pass it ends.
"""

from __future__ import annotations

from pydantic import Field

from .strict import Strict


class ResumableConfig(Strict):
    # Seconds a run goes on upstream with no client attached; then it ends with RUN_ERROR abandoned.
    linger: float = Field(120.0, ge=0, le=86400)
    keep: float = Field(300.0, ge=1, le=86400)  # seconds an ended run stays readable
    max_frames: int = Field(50_000, ge=16)  # frames one run may keep (a frame is an event)
    max_bytes: int = Field(16 * 1024 * 1024, ge=4096)  # bytes of frames one run may keep


class RunsConfig(Strict):
    # Runs kept at once (running or ended but within ``keep``), all resumable routes together; past
    # it the oldest ended runs go first; a running one is never ended for room: with none ended, a
    # new run gets 503 with Retry-After.
    max_kept: int = Field(1000, ge=1)
    # Runs one identity may keep (its share: one user cannot fill max_kept); past it its own oldest
    # ended run goes, and with none ended its new run gets 429 with Retry-After.
    max_kept_per_identity: int = Field(100, ge=1)
    # Bytes of frames kept in this process's memory, every run together (no store.url): the oldest
    # runs go first past it.  With Redis, Redis's own maxmemory is the bound.
    max_bytes: int = Field(256 * 1024 * 1024, ge=64 * 1024)
