"""Retries, backoff and fallbacks: a flaky provider absorbed before the user sees it.

One client's run goes through :class:`UpstreamRun`.  Each try of an upstream feeds a fresh
:class:`~agui_proxy.core.stream.RunStream` (same thread and run ids; its ``RUN_STARTED`` was
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

import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence

import anyio
import httpx

from ..config import RetriesConfig
from ..core.conversation import Conversation
from ..core.redact import redact
from ..core.stream import RunStream
from ..errors import UpstreamError, UpstreamHTTPError, UpstreamTimeout
from ..providers import UpstreamRequest
from .routing import Target
from .upstream import open_http, open_replay

log = logging.getLogger("agui_proxy")

Write = Callable[[bytes], Awaitable[None]]

# Failures that are an answer, not an outage: another upstream must not be asked instead (a
# safety filter that stopped a prompt is not bypassed by sending it elsewhere).
FINAL_CODES = frozenset({"content_filtered"})


def backoff_delay(policy: RetriesConfig, retry: int, error: UpstreamError, rng: random.Random) -> float | None:
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


class _FailedEarly(Exception):
    """An upstream failed before any of its answer reached the client (internal to this module)."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(error.message)
        self.error = error


class UpstreamRun:
    """One client's run across tries and upstreams.

    ``new_stream`` builds a run stream for an upstream (with its provider's translator); the
    first one, for ``first``, is :attr:`stream`, whose ``start()`` the caller sends.  ``write``
    sends bytes to the client.  :attr:`stream` is always the stream of the current try, so the
    caller can end the run (``stream.fail``) when it is stopped.
    """

    def __init__(self, new_stream: Callable[[Target], RunStream], first: Target, write: Write,
                 http: Callable[[], httpx.AsyncClient], *, secrets: Sequence[str] = (),
                 rng: random.Random | None = None, label: str = "") -> None:
        self._new_stream = new_stream
        self._write = write
        self._http = http
        self._secrets = secrets
        self._rng = rng or random.Random()
        self._label = label
        self.stream = new_stream(first)
        self._stream_used = False
        self.tries = 0  # requests sent, over all upstreams (for logs and tests)

    async def run(self, targets: Sequence[Target], first_request: UpstreamRequest, conversation: Conversation,
                  client_headers: Iterable[tuple[bytes, bytes]]) -> None:
        last: UpstreamError | None = None
        for index, target in enumerate(targets):
            request = first_request if index == 0 else target.build_request(conversation, client_headers)
            try:
                await self._run_on(target, request)
                return
            except _FailedEarly as failed:
                last = failed.error
                if last.code in FINAL_CODES:
                    break
                if index + 1 < len(targets):
                    log.warning("%supstream %s failed before its answer started (%s: %s); falling back to %s",
                                self._label, target.name, last.code, self._redact(last.message),
                                targets[index + 1].name)
        assert last is not None
        await self._write(self.stream.fail(last))

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _next_stream(self, target: Target) -> RunStream:
        if self._stream_used:
            self.stream = self._new_stream(target)
            self.stream.start()  # RUN_STARTED: the client has it from the first stream
        self._stream_used = True
        return self.stream

    async def _run_on(self, target: Target, request: UpstreamRequest) -> None:
        """Tries of one upstream; raises :class:`_FailedEarly` when it failed before any output."""
        policy = target.upstream.retries
        total = target.upstream.timeouts.total
        deadline = anyio.current_time() + total
        retry = 0
        while True:
            stream = self._next_stream(target)
            self.tries += 1
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    await self._attempt(target, request, stream)
                return
            except TimeoutError:
                error: UpstreamError = UpstreamTimeout(
                    f"the upstream took longer than {total:g} s in all (timeouts.total)")
            except UpstreamError as exc:
                error = exc
            if stream.output_started:
                await self._write(stream.fail(error))
                return
            retry += 1
            delay = None if error.code in FINAL_CODES else backoff_delay(policy, retry, error, self._rng)
            if delay is None or anyio.current_time() + delay >= deadline:
                raise _FailedEarly(error)
            log.warning("%supstream %s: %s (%s); retry %d of %d in %.2f s", self._label, target.name,
                        self._redact(error.message), error.code, retry, policy.max, delay)
            await anyio.sleep(delay)

    async def _attempt(self, target: Target, request: UpstreamRequest, stream: RunStream) -> None:
        """One request to one upstream, its answer written to the client as it comes."""
        try:
            if target.replay_file is not None:
                upstream = target.upstream
                source = open_replay(target.replay_file, upstream.chunk_size, upstream.interval)
            else:
                source = open_http(self._http(), request, target.provider, target.upstream.timeouts)
            async with source as chunks:
                async for chunk in chunks:
                    out = stream.feed(chunk)
                    if stream.early_failure is not None:
                        raise stream.early_failure
                    if out:
                        await self._write(out)
                    if stream.ended:
                        return
                out = stream.close()
                if stream.early_failure is not None:
                    raise stream.early_failure
                if out:
                    await self._write(out)
        except OSError as exc:  # a replay file that cannot be read
            raise UpstreamError(f"the recording cannot be read ({exc.strerror})", code="upstream_unavailable") from None
