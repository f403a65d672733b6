"""Resumable runs: a run that outlives its client's connection (docs/resumable-runs.md).

On a route with ``resumable:`` the route handler does not stream the run to its client itself.
:meth:`ResumableRuns.start` gives the run a task of its own (the *driver*), which holds the run's
:class:`~.admission.RunSlot` and writes every frame to the run log (``journal.py``), and the
client's response is a reader of that log (``reader.py``), like every later reattach.  So:

- a client that leaves stops only its reader; the upstream goes on, its frames kept;
- the driver looks how many readers are attached (on any process, through the log) a few times
  a second; with none for ``linger`` seconds it stops the run: the upstream response is closed
  (``upstream/call.py`` closes it in a ``finally``) and the run ends with ``RUN_ERROR`` ``abandoned``;
- the drain stops it like any run (``shutdown``), the upstream's ``timeouts.total`` still bounds it,
  and a run past its caps ends with ``run_too_large``.

Whatever ends it, the driver writes the run's last frames and the end entry with the terminator
the original request had (``data: [DONE]`` for a BranderUX body), so every reader ends the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import anyio

from ..config import Config, ResumableConfig, RunsConfig
from ..core.encoder import DONE_FRAME
from ..core.pipeline import RunPipeline
from ..errors import (
    InternalError,
    RunAbandoned,
    RunAborted,
    RunError,
    RunStoreUnavailable,
    RunTooLarge,
    StoreUnavailable,
    UpstreamReportedError,
)
from ..store import Created, RunLog, open_run_log
from ..upstream.coalesce import Write
from ..upstream.retries import StreamedRun
from .admission import AdmissionGate, RunSlot
from .journal import DROPPED, TOO_LARGE, FrameJournal

log = logging.getLogger("agui_proxy")

# How often the driver asks whether a reader is attached: well within a second of linger passing.
READER_POLL = 0.2
STORE_RETRY_FIRST = 0.5  # seconds before a failed run's end is written again; doubled up to:
STORE_RETRY_MAX = 30.0


class ResumableRuns:
    """The resumable runs this process drives, all writing to one run log."""

    def __init__(self, runs_log: RunLog, config: RunsConfig, gate: AdmissionGate) -> None:
        self.log = runs_log
        self.config = config
        self.gate = gate
        self._drivers: set[asyncio.Future[None]] = set()

    async def create(self, key: str, resumable: ResumableConfig) -> Created:
        """Claim ``key`` for a new run (or say why not: its owner has a run of that id, or no
        ended run could make room)."""
        return await self.log.create(key, ttl=_live_ttl(resumable), max_kept=self.config.max_kept,
                                     max_per_owner=self.config.max_kept_per_identity)

    def start(self, key: str, resumable: ResumableConfig, slot: RunSlot, build: Callable[[Write], StreamedRun],
              *, done: bool, label: str) -> tuple[StreamedRun, asyncio.Future[None]]:
        """Drive the run in a task of its own, which now owns ``slot`` (and releases it); the run,
        and the task, done when the run has ended."""
        journal = FrameJournal(self.log, key, resumable, slot.stop, _live_ttl(resumable))
        run = build(journal.write)
        driver = asyncio.ensure_future(self._drive(key, resumable, run, journal, slot, done, label))
        self._drivers.add(driver)
        driver.add_done_callback(self._drivers.discard)
        return run, driver

    async def _drive(self, key: str, resumable: ResumableConfig, run: StreamedRun, journal: FrameJournal,
                     slot: RunSlot, done: bool, label: str) -> None:
        watcher = asyncio.ensure_future(self._watch_readers(key, resumable.linger, slot))
        terminator = DONE_FRAME if done else b""
        try:
            await journal.write(run.pipeline.start())
            with anyio.CancelScope() as scope:
                slot.attach(scope)
                try:
                    await run.run()
                except StoreUnavailable:
                    raise  # the log failed, not the proxy: ended below
                except Exception:
                    log.exception("%sthe proxy failed while running a resumable run", label)
                    await journal.write(run.pipeline.fail(InternalError("the proxy failed while streaming")))
            journal.closing = True
            stopped = _stop_error(slot.stop_reason, resumable)
            if stopped is not None:
                await journal.write(run.pipeline.fail(stopped))
            await journal.write(_ended(run.pipeline))
            await journal.finish(terminator)
        except StoreUnavailable as exc:
            # One line, no traceback: the upstream request is closed (the run's scope was left),
            # and the run's end goes into the log once the store answers, so no reader waits on it.
            log.warning("%sthe run log failed (%s); the run ends with store_unavailable", label, exc)
            failed = run.pipeline.fail(RunStoreUnavailable(
                "the run's store failed (store.url); the upstream request was closed: send the request again"))
            ending = asyncio.ensure_future(self._end_when_the_store_returns(journal, failed, terminator, label))
            self._drivers.add(ending)
            ending.add_done_callback(self._drivers.discard)
        finally:
            watcher.cancel()
            self.gate.release(slot)
        error = run.pipeline.error
        if error is not None:
            log.warning("%srun ended with %s: %s", label, error.code, error.message)

    async def _end_when_the_store_returns(self, journal: FrameJournal, frames: bytes, terminator: bytes,
                                          label: str) -> None:
        """Write the run's end into its log, trying again (0.5 s, doubling to 30 s) until the
        store answers or the run would have expired there anyway."""
        delay, give_up = STORE_RETRY_FIRST, anyio.current_time() + journal.ttl
        while anyio.current_time() + delay < give_up:
            await anyio.sleep(delay)
            try:
                if await journal.resync():
                    journal.closing = True
                    await journal.write(frames)
                    await journal.finish(terminator)
                return
            except StoreUnavailable:
                delay = min(delay * 2, STORE_RETRY_MAX)
        log.warning("%sthe run's end could not be written: the store did not answer", label)

    async def _watch_readers(self, key: str, linger: float, slot: RunSlot) -> None:
        """Stop the run once no reader has been attached for ``linger`` seconds."""
        unattended_since = anyio.current_time()
        while True:
            await anyio.sleep(min(READER_POLL, max(linger / 4, 0.02)))
            try:
                attached = await self.log.readers(key)
            except StoreUnavailable:
                attached = 1  # not known: a run is not given up on because Redis hiccupped
            now = anyio.current_time()
            if attached:
                unattended_since = now
            elif now - unattended_since >= linger:
                slot.stop("abandoned")
                return

    async def aclose(self) -> None:
        for driver in list(self._drivers):
            driver.cancel()
        if self._drivers:
            await asyncio.wait(list(self._drivers))
        await self.log.aclose()


def resumable_runs(config: Config, gate: AdmissionGate) -> ResumableRuns | None:
    """The runs of the config's resumable routes, in the log ``store.url`` names (None: no such route)."""
    routes = [route.resumable for route in config.routes if route.resumable is not None]
    if not routes:
        return None
    return ResumableRuns(open_run_log(config.store, config.runs, max(r.max_frames for r in routes)), config.runs, gate)


def startup_warnings(config: Config, workers: int) -> list[str]:
    """What the CLI says at start: resumable routes whose reattaches may miss their run."""
    resumable = [route.path for route in config.routes if route.resumable is not None]
    if resumable and workers > 1 and config.store.url is None:
        return [f"resumable routes ({', '.join(resumable)}) with --workers {workers} and no store.url: each "
                "worker keeps its own runs, so a reattach that reaches another worker gets 404; set store.url (Redis)"]
    return []


def _live_ttl(resumable: ResumableConfig) -> float:
    # A running run is kept this long after each write: long enough for any silence the run may
    # have (a reasoning model), short enough that a run whose process died goes away.
    return resumable.linger + resumable.keep + 3600.0


def _stop_error(reason: str | None, resumable: ResumableConfig) -> RunError | None:
    if reason == "shutdown":
        return RunAborted("the proxy is shutting down; send the request again")
    if reason == "abandoned":
        return RunAbandoned(f"no client was attached for {resumable.linger:g} s (resumable.linger); "
                            "the upstream request was closed")
    if reason == TOO_LARGE:
        return RunTooLarge(f"the run passed its cap of {resumable.max_frames} events or {resumable.max_bytes} "
                           "bytes (resumable.max_frames, max_bytes)")
    if reason == DROPPED:
        return RunTooLarge("the run's frames could not be kept (runs.max_bytes, every kept byte a running run's; "
                           "or its keys expired in the store)")
    return None


def _ended(pipeline: RunPipeline) -> bytes:
    # Work that returned without ending the run (a cancelled try) must not leave it open.
    if pipeline.ended:
        return b""
    return pipeline.fail(UpstreamReportedError("the run ended without an answer"))
