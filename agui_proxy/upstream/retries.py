"""Retries, backoff and fallbacks: a flaky provider absorbed before the user sees it.

One client's run goes through :class:`UpstreamRun`.  Each try of an upstream feeds a fresh
:class:`~agui_proxy.core.pipeline.RunPipeline` (same thread and run ids; its ``RUN_STARTED`` was
already sent by the first one) built with ``hold_early_failure``, so a failure found before any
of the answer was produced is held back instead of reaching the client.  Then:

- a retryable failure (a refused or reset connection, a connect timeout, HTTP 429, 500, 502,
  503, 504, 529, a connection lost before any output) is tried again on the same upstream,
  up to ``retries.max`` times, after an exponential backoff with jitter, or after the 429's
  ``Retry-After`` when that is no longer than ``retries.max_retry_after``;
- any other failure before output, or the last retryable one, moves on to the route's next
  ``fallbacks`` upstream, with the request rebuilt for that upstream's provider;
- once output has started the run is committed to that upstream: a failure then ends it with
  ``RUN_ERROR``, never a retry (the client would see the answer twice).

The client sees none of this except the time it takes.  ``timeouts.total`` bounds the tries of
one upstream, backoff included.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import anyio
import httpx

from ..config import RetriesConfig
from ..core.conversation import Conversation
from ..core.pipeline import RunPipeline
from ..core.redact import NO_SECRETS, Redactor
from ..errors import RunError, UpstreamHTTPError
from ..providers import ProviderRequest
from ..providers.whole_response import whole_response_events
from .call import open_source
from .chain import Target
from .coalesce import Write
from .deadline import Deadline

log = logging.getLogger("agui_proxy")


# One generator for every run's jitter: a Random's state is 2.5 KB, too much to carry per stream.
_JITTER = random.Random()


def backoff_delay(policy: RetriesConfig, retry: int, error: RunError, rng: random.Random) -> float | None:
    """Seconds to wait before retry number ``retry`` (1 for the first), or ``None``: do not retry.

    Exponential (``backoff`` doubled per retry, capped at ``max_backoff``) with jitter in the
    upper half, so many clients failing together do not come back together; never less than
    what the upstream asked for in ``Retry-After``, and no retry when that is past the cap.
    """
    if not error.retryable or retry > policy.max:
        return None
    delay: float = min(policy.max_backoff, policy.backoff * 2.0 ** min(retry - 1, 32))
    delay *= rng.uniform(0.5, 1.0)
    asked = error.retry_after if isinstance(error, UpstreamHTTPError) else None
    if asked is not None:
        if asked > policy.max_retry_after:
            return None
        delay = max(delay, asked)
    return delay


class RunObserver(Protocol):
    """What the shell's metrics, access log and traces learn about a run's tries (see ``app/route_handler.py``)."""

    def attempt(self, upstream: str, pipeline: RunPipeline, retry: bool) -> None:
        """A request is sent to ``upstream``, its answer read into ``pipeline`` (``retry``: again)."""

    def outbound(self, upstream: str, request: ProviderRequest) -> ProviderRequest:
        """The request as it goes to ``upstream`` (tracing adds its ``traceparent`` there)."""

    def attempt_ended(self, error: RunError | None) -> None:
        """The try begun by the last :meth:`attempt` ended, with ``error`` or well."""

    def retrying(self, upstream: str, retry: int, delay: float, error: RunError) -> None:
        """``upstream`` is tried again (retry number ``retry``) in ``delay`` seconds after ``error``."""

    def fallback(self, from_upstream: str, to_upstream: str) -> None:
        """The run moves on to the route's next upstream."""

    def chunk(self, out: bytes) -> None:
        """One chunk of the upstream's body was read; ``out`` is what it gave the client."""


class Unobserved:
    """A :class:`RunObserver` that does nothing: the base of observers that want a few of its calls."""

    __slots__ = ()

    def attempt(self, upstream: str, pipeline: RunPipeline, retry: bool) -> None:
        pass

    def outbound(self, upstream: str, request: ProviderRequest) -> ProviderRequest:
        return request

    def attempt_ended(self, error: RunError | None) -> None:
        pass

    def retrying(self, upstream: str, retry: int, delay: float, error: RunError) -> None:
        pass

    def fallback(self, from_upstream: str, to_upstream: str) -> None:
        pass

    def chunk(self, out: bytes) -> None:
        pass


UNOBSERVED = Unobserved()


class _FailedEarly(Exception):
    """An upstream failed before any of its answer reached the client (internal to this module)."""

    def __init__(self, error: RunError) -> None:
        super().__init__(error.message)
        self.error = error


class UpstreamRun:
    """One client's run across tries and upstreams.

    ``targets`` is the route's chain, ``first_request`` the request already built for the first
    of them; the others' are built from ``conversation`` when their turn comes.  ``new_pipeline``
    builds a run stream for an upstream (with its provider's translator); the first one is
    :attr:`pipeline`, whose ``start()`` the caller sends.  ``write`` sends bytes to the client.
    :attr:`pipeline` is always the pipeline of the current try, so the caller can end the run
    (``pipeline.fail``) when it is stopped.
    """

    __slots__ = ("_client_headers", "_conversation", "_first_request", "_http", "_label", "_new_pipeline",
                 "_observer", "_pipeline_used", "_redact", "_rng", "_targets", "_write", "pipeline", "tries")

    def __init__(self, new_pipeline: Callable[[Target], RunPipeline], targets: Sequence[Target],
                 first_request: ProviderRequest, conversation: Conversation,
                 client_headers: Iterable[tuple[bytes, bytes]], write: Write, http: Callable[[], httpx.AsyncClient],
                 *, redactor: Redactor = NO_SECRETS, rng: random.Random | None = None, label: str = "",
                 observer: RunObserver = UNOBSERVED) -> None:
        self._new_pipeline = new_pipeline
        self._targets = targets
        self._first_request = first_request
        self._conversation = conversation
        self._client_headers = client_headers
        self._write = write
        self._http = http
        self._redact = redactor
        self._rng = rng or _JITTER
        self._label = label
        self._observer = observer
        self.pipeline = new_pipeline(targets[0])
        self._pipeline_used = False
        self.tries = 0  # requests sent, over all upstreams (for logs and tests)

    async def run(self) -> None:
        targets = self._targets
        last: RunError | None = None
        for index, target in enumerate(targets):
            request = (self._first_request if index == 0
                       else target.build_request(self._conversation, self._client_headers))
            try:
                await self._run_on(target, request)
                return
            except _FailedEarly as failed:
                last = failed.error
                if last.final:  # an answer, not an outage: a safety filter is not bypassed elsewhere
                    break
                if index + 1 < len(targets):
                    self._observer.fallback(target.name, targets[index + 1].name)
                    log.warning("%supstream %s failed before its answer started (%s: %s); falling back to %s",
                                self._label, target.name, last.code, self._redact(last.message),
                                targets[index + 1].name)
        assert last is not None
        await self._write(self.pipeline.fail(last))

    def _next_pipeline(self, target: Target) -> RunPipeline:
        if self._pipeline_used:
            self.pipeline = self._new_pipeline(target)
            self.pipeline.start()  # RUN_STARTED: the client has it from the first stream
        self._pipeline_used = True
        return self.pipeline

    async def _run_on(self, target: Target, request: ProviderRequest) -> None:
        """Tries of one upstream; raises :class:`_FailedEarly` when it failed before any output."""
        policy = target.upstream.retries
        end = anyio.current_time() + target.upstream.timeouts.total
        retry = 0
        while True:
            pipeline = self._next_pipeline(target)
            self._observer.attempt(target.name, pipeline, retry > 0)
            self.tries += 1
            deadline = Deadline(target.upstream.timeouts, end)
            error: RunError
            try:
                with deadline:
                    await self._attempt(target, request, pipeline, deadline)
                if not deadline.scope.cancelled_caught:
                    self._observer.attempt_ended(pipeline.error)
                    return
                error = deadline.expired()
            except RunError as exc:
                error = exc
            except BaseException:  # the client left, the server stops: the try ends with the run
                self._observer.attempt_ended(None)
                raise
            self._observer.attempt_ended(error)
            if pipeline.output_started:
                await self._write(pipeline.fail(error))
                return
            retry += 1
            delay = None if error.final else backoff_delay(policy, retry, error, self._rng)
            if delay is None or anyio.current_time() + delay >= end:
                raise _FailedEarly(error)
            log.warning("%supstream %s: %s (%s); retry %d of %d in %.2f s", self._label, target.name,
                        self._redact(error.message), error.code, retry, policy.max, delay)
            self._observer.retrying(target.name, retry, delay, error)
            await anyio.sleep(delay)

    async def _attempt(self, target: Target, request: ProviderRequest, pipeline: RunPipeline,
                       deadline: Deadline) -> None:
        """One request to one upstream, its answer written to the client as it comes: the one
        feed loop (feed, observe, write, end), whatever the transport or the answer's kind."""
        source = open_source(self._observer.outbound(target.name, request), self._http, target.provider,
                             deadline, self._write)
        async with source as body:
            feed = _whole_feed(pipeline, target.provider.name) if body.whole else pipeline.feed
            write, observer = body.write, self._observer
            try:
                while chunk := await body.receive():
                    out = feed(chunk)
                    observer.chunk(out)
                    if pipeline.early_failure is not None:
                        raise pipeline.early_failure
                    if out:
                        await write(out)
                    if pipeline.ended:
                        break
                else:
                    out = pipeline.close()
                    if pipeline.early_failure is not None:
                        raise pipeline.early_failure
                    if out:
                        await write(out)
            except RunError:
                await body.flush()  # what was read before the failure goes out before its RUN_ERROR
                raise
            await body.flush()  # before the connection's end is read (call.py _drain)


def _whole_feed(pipeline: RunPipeline, provider: str) -> Callable[[bytes], bytes]:
    """A whole JSON answer fed as the events its stream would have given (providers/whole_response.py)."""
    return functools.partial(pipeline.feed_whole, to_events=functools.partial(whole_response_events, provider))
