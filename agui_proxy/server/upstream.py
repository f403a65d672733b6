"""The one place that talks to an upstream.

It opens the streaming request, checks the status, hands the raw body chunks on, maps httpx's
exceptions to the project's own at this boundary, and always closes the upstream response, so a
client that leaves frees the upstream connection at once.  A replay upstream reads a recording
from disk instead, paced like a real provider.

The upstream's ``timeouts`` are enforced here: ``connect`` by httpx; ``first_byte`` (until the
status line), ``idle`` (between two body chunks) and ``total`` (all tries of one upstream) by a
:class:`Deadline`, so each ends with an :class:`UpstreamTimeout` that names the one that ran out.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import httpx

from ..config import TimeoutsConfig
from ..core.sse import DEFAULT_MAX_EVENT_SIZE
from ..errors import (
    UpstreamConnectTimeout,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamTruncated,
    UpstreamUnavailable,
    http_error,
)
from ..providers import Provider, ProviderRequest, Recording, UpstreamRequest
from ..providers.base import describe_error_body

MAX_ERROR_BODY = 64 * 1024
MAX_WHOLE_BODY = DEFAULT_MAX_EVENT_SIZE  # a whole JSON answer is held like one event of a stream
MAX_DRAIN_BYTES = 64 * 1024  # what is read after the end of a run to keep the connection (see _drain)
DRAIN_SECONDS = 0.1
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=10.0)


def new_client() -> httpx.AsyncClient:
    """The shared client: pooled connections, no redirects, no environment proxies or netrc."""
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False,
                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=100))


def _seconds(value: float) -> str:
    return f"{value:g} s"


class Deadline:
    """The timeouts of one try: one cancel scope, and one lazy timer for the waits.

    The caller enters the deadline (``with deadline:``) around the whole try; its scope always
    ends the try by ``end`` (``timeouts.total`` after the first try of this upstream began).
    While the shell waits on the upstream (for the status line, for the next chunk), that wait
    may last ``first_byte`` or ``idle`` seconds.  Those are kept lazily: a wait only notes when it
    began; one timer, armed for the earliest limit, checks when it fires whether a wait has
    really run out and re-arms itself otherwise.  Moving a deadline on every chunk would cancel
    and schedule a timer per chunk: 9.0 us a chunk against 0.4 us this way, and about 7% of the
    proxy's CPU per token paced, 18% in bursts, before the change (bench/OPTIMISATIONS.md).  One
    scope and one timer per try rather than per wait: memory per open stream counts when a process
    holds a thousand of them.  :meth:`expired` is the error for whichever ran out.
    """

    __slots__ = ("_end", "_expired", "_kind", "_limit_at", "_timer", "_timer_at", "scope", "timeouts")

    def __init__(self, timeouts: TimeoutsConfig, end: float) -> None:
        self.timeouts = timeouts
        self._end = end
        self._kind: str | None = None  # the wait under way ("first_byte" or "idle"), if any
        self._limit_at = 0.0  # when that wait runs out (the loop's clock)
        self._expired: str | None = None  # the wait that ran out
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self.scope = anyio.CancelScope(deadline=end)

    def __enter__(self) -> Deadline:
        self.scope.__enter__()
        return self

    def __exit__(self, *exc: Any) -> bool:
        if self._timer is not None:
            self._timer.cancel()  # a finished try keeps nothing alive in the loop
            self._timer = None
        return bool(self.scope.__exit__(*exc))

    def waiting(self, kind: str, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        at = loop.time() + seconds
        self._kind = kind
        self._limit_at = at
        if at < self._timer_at and at < self._end:
            self._arm(loop, at)

    def done_waiting(self) -> None:
        self._kind = None

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(at, self._check)
        self._timer_at = at

    def _check(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if self._kind is None or self.scope.cancel_called:
            return  # no wait under way: the next one arms the timer again
        loop = asyncio.get_running_loop()
        if loop.time() >= self._limit_at:
            self._expired = self._kind
            self.scope.cancel()
        else:
            self._arm(loop, self._limit_at)  # a later wait than the one the timer was armed for

    def expired(self) -> UpstreamTimeout:
        t = self.timeouts
        if self._expired is not None:
            kind = self._expired
        elif self.scope.cancel_called:
            kind = "total"  # the scope's own deadline
        else:
            kind = self._kind or "total"  # httpx gave up within a wait (writing the request)
        if kind == "first_byte":
            return UpstreamTimeout(f"the upstream did not answer within {_seconds(t.first_byte)} "
                                   "(timeouts.first_byte)")
        if kind == "idle":
            return UpstreamTimeout(f"the upstream went silent for {_seconds(t.idle)} (timeouts.idle)")
        return UpstreamTimeout(f"the upstream took longer than {_seconds(t.total)} in all (timeouts.total)")


class UpstreamCall:
    """One request to an upstream: ``async with UpstreamCall(...) as chunks`` sends it, gives
    the body's chunks once the upstream answered 2xx, and closes the response on the way out,
    whatever happened (so a client that leaves frees the upstream connection at once).

    Must run inside ``deadline``; when it expires the try is cancelled there.  A class
    rather than an ``asynccontextmanager`` and an async generator: each of those keeps a
    generator frame alive for the whole stream.
    """

    __slots__ = ("_chunks", "_client", "_deadline", "_provider", "_request", "_response", "whole_body")

    def __init__(self, client: httpx.AsyncClient, request: UpstreamRequest, provider: Provider,
                 deadline: Deadline) -> None:
        self._client = client
        self._request = request
        self._provider = provider
        self._deadline = deadline
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        # A 2xx ``application/json`` answer: the whole, non-streamed response, read here
        # (providers/whole_response.py turns it into the events its stream would have been).
        self.whole_body: bytes | None = None

    async def __aenter__(self) -> UpstreamCall:
        request, deadline, t = self._request, self._deadline, self._deadline.timeouts
        client = self._client
        # httpx keeps the connect timeout; the waits for the status line and for each chunk have
        # limits of their own, kept by the deadline.
        http_timeout = httpx.Timeout(connect=t.connect, read=None, write=t.first_byte, pool=t.connect)
        deadline.waiting("first_byte", t.first_byte)
        try:
            response = await client.send(
                client.build_request(request.method, request.url, headers=request.headers,
                                     content=request.body, params=request.params or None, timeout=http_timeout),
                stream=True,
            )
        except httpx.ConnectTimeout:
            # Nothing was sent: as safe to retry as a refused connection.
            raise UpstreamConnectTimeout(f"the upstream did not accept the connection within {_seconds(t.connect)} "
                                         "(timeouts.connect)") from None
        except httpx.TimeoutException:  # writing the request took too long
            raise deadline.expired() from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"could not reach the upstream ({_reason(exc)})") from None
        finally:
            deadline.done_waiting()
        self._response = response
        try:
            whole = await self._check(response, t.idle)
            self._chunks = response.aiter_bytes().__aiter__()
            if whole:
                self.whole_body = await self._read_whole()
        except BaseException:
            await response.aclose()
            raise
        return self

    async def _check(self, response: httpx.Response, idle: float) -> bool:
        """Refuse what is not the provider's answer; ``True`` for a whole (non-streamed) JSON one."""
        if not 200 <= response.status_code < 300:
            body = await _read_capped(response, idle)
            raise http_error(response.status_code, self._provider.error_message(
                response.status_code, body, response.headers.get("content-type", "")),
                retry_after=retry_after_seconds(response.headers))
        content_type = response.headers.get("content-type", "")
        if content_type.lower().startswith("application/json"):
            # Some gateways and mocks answer a streaming request with the whole completion.
            return True
        if content_type and not content_type.lower().startswith("text/event-stream"):
            # A wrong base_url (an HTML page) or a server that ignored "stream": true.
            detail = describe_error_body(await _read_capped(response, idle), content_type)
            raise UpstreamProtocolError(
                f"the upstream answered {response.status_code} with {content_type.split(';')[0]}, not an event stream"
                + (f": {detail}" if detail else ""))
        return False

    async def _read_whole(self) -> bytes:
        """The whole body, each wait under the idle limit, capped like one event of a stream."""
        body = bytearray()
        async for chunk in self:
            body += chunk
            if len(body) > MAX_WHOLE_BODY:
                raise UpstreamProtocolError(f"the upstream's JSON answer is larger than {MAX_WHOLE_BODY} bytes")
        return bytes(body)

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._response is None:
            return
        try:
            if exc_type is None and self._chunks is not None:
                await _drain(self._chunks)  # the run ended well: keep the connection for the next one
        finally:
            await self._response.aclose()

    def __aiter__(self) -> UpstreamCall:
        return self

    async def __anext__(self) -> bytes:
        assert self._chunks is not None
        # A limit on each wait, never between them: the consumer's time is not silence.
        self._deadline.waiting("idle", self._deadline.timeouts.idle)
        try:
            return await self._chunks.__anext__()
        except httpx.TransportError as exc:
            # Before any output this is as good as a connection error: worth another try.
            raise UpstreamTruncated(f"the upstream connection broke mid-stream ({_reason(exc)})") from None
        finally:
            self._deadline.done_waiting()


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read the little that follows the provider's end marker, so the connection goes back to the pool.

    The run ends at ``data: [DONE]`` (or ``message_stop``...), but the HTTP body ends a moment later
    (the last chunk of a chunked body).  Closing a response before its body's end makes httpcore
    drop the connection, and the next request pays a new TCP (and TLS) handshake: measured in the
    bench as connection set-up on every request.  Bounded in bytes and time, since an upstream may
    keep the body open after its end marker.  Never on an error or a cancellation (a client that
    left): the response is closed at once then.
    """
    received = 0
    with anyio.move_on_after(DRAIN_SECONDS):
        try:
            async for chunk in chunks:
                received += len(chunk)
                if received > MAX_DRAIN_BYTES:
                    return
        except httpx.HTTPError:
            return  # the connection is lost anyway; aclose() cleans up


async def _read_capped(response: httpx.Response, idle: float) -> bytes:
    body = bytearray()
    try:
        with anyio.fail_after(idle):
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= MAX_ERROR_BODY:
                    break
    except (httpx.HTTPError, TimeoutError):
        pass  # the status says enough; a broken or stalled error body is not worth more
    return bytes(body)


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float | None:
    """The wait an upstream asked for: ``retry-after-ms`` (OpenAI, Anthropic), else ``Retry-After``
    in seconds or as an HTTP date (RFC 9110 section 10.2.3).  ``None`` when absent or unreadable."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            ms = float(value)
        except ValueError:
            ms = -1.0
        if 0 <= ms < float("inf"):
            return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _reason(exc: httpx.TransportError) -> str:
    # The exception's text can carry the URL (with a query); its type is enough for a person.
    return {
        httpx.ConnectError: "connection failed",
        httpx.RemoteProtocolError: "the upstream broke the HTTP protocol or closed the connection",
        httpx.ReadError: "read failed",
        httpx.WriteError: "write failed",
        httpx.ProxyError: "proxy failed",
    }.get(type(exc), type(exc).__name__)


def open_source(request: ProviderRequest, client: Callable[[], httpx.AsyncClient], provider: Provider,
                deadline: Deadline) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """What a provider built, opened: an HTTP call (on ``client()``), or a recording played back."""
    if isinstance(request, Recording):
        return open_replay(request)
    return UpstreamCall(client(), request, provider, deadline)


@asynccontextmanager
async def open_replay(recording: Recording) -> AsyncIterator[AsyncIterator[bytes]]:
    """A recorded stream played back in ``chunk_size`` pieces, ``interval`` seconds apart."""
    try:
        data = await anyio.Path(recording.path).read_bytes()
    except OSError as exc:
        raise UpstreamUnavailable(f"the recording cannot be read ({exc.strerror})") from None
    chunk_size, interval = recording.chunk_size, recording.interval

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk_size):
            if start and interval:
                await anyio.sleep(interval)
            yield data[start:start + chunk_size]

    yield chunks()
