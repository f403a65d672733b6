"""The one place that talks to an upstream.

It opens the streaming request, checks the status, hands the body on, maps httpx's exceptions
to the project's own at this boundary, and always closes the upstream response, so a client that
leaves frees the upstream connection at once.  A replay upstream reads a recording from disk
instead, paced like a real provider.

Whatever the transport and whatever the answer, a try sees one :class:`UpstreamBody`:
``receive()`` the next bytes (``b""`` at the end), ``write()`` the frames made of them,
``flush()`` at the end.  Behind it: the lean transport's socket reads, one write per read
(:class:`DirectBody`); httpx's stock chunks (or a body inflated anyway, or a recording), their
frames joined when ready together (``coalesce.py``); a whole JSON answer, received once
(:class:`WholeBody`, ``whole`` set: the run feeds it as a whole).

A cloud upstream's request passes its :class:`~agui_proxy.upstream.clouds.Authorizer` just
before it is sent (SigV4 for Bedrock, an access token for Vertex), every try anew; a 401 to a request so
authorized is tried once more with fresh credentials, if the authorizer says that may help.

The upstream's ``timeouts`` are enforced here: ``connect`` by httpx; ``first_byte`` (until the
status line), ``idle`` (between two body chunks) and ``total`` (all tries of one upstream) by a
:class:`~.deadline.Deadline`, so each ends with an :class:`UpstreamTimeout` that names the one that ran out.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import anyio
import httpx

from ..core.sse import DEFAULT_MAX_EVENT_SIZE
from ..errors import (
    OutOfDescriptors,
    UpstreamConnectTimeout,
    UpstreamProtocolError,
    UpstreamTruncated,
    UpstreamUnavailable,
    http_error,
)
from ..providers import Provider, ProviderRequest, Recording, UpstreamRequest
from ..providers.base import describe_error_body
from .clouds import Authorizer
from .coalesce import CoalescedBody, Write
from .deadline import Deadline, seconds
from .inflate import Inflater, content_coding
from .transport import ResponseBody, ResponseHeadTooLarge, body_of, head_too_large


class UpstreamBody(Protocol):
    """An upstream's answer as a try reads it, whatever the transport or the answer's kind."""

    whole: bool  # a whole JSON answer (one receive), not a stream

    def receive(self) -> Awaitable[bytes]: ...

    def write(self, data: bytes, /) -> Awaitable[None]: ...

    def flush(self) -> Awaitable[None]: ...


async def _nothing() -> None:
    return None


class DirectBody:
    """The lean transport's body: one socket read per :meth:`receive`, its frames out in one
    write, so frames that arrived together leave together by construction (no coalescing layer,
    no iterator layers), and a token still leaves the moment it arrives."""

    __slots__ = ("receive", "write")

    whole = False

    def __init__(self, receive: Callable[[], Awaitable[bytes]], write: Write) -> None:
        self.receive = receive
        self.write = write

    def flush(self) -> Awaitable[None]:
        return _nothing()


class WholeBody:
    """A whole (non-streamed) JSON answer, read already: received once, then the end."""

    __slots__ = ("_body", "write")

    whole = True

    def __init__(self, body: bytes, write: Write) -> None:
        self._body = body
        self.write = write

    async def receive(self) -> bytes:
        body, self._body = self._body, b""
        return body

    def flush(self) -> Awaitable[None]:
        return _nothing()


MAX_ERROR_BODY = 64 * 1024
MAX_WHOLE_BODY = DEFAULT_MAX_EVENT_SIZE  # a whole JSON answer is held like one event of a stream
MAX_DRAIN_BYTES = 64 * 1024  # what is read after the end of a run to keep the connection (see _drain)
DRAIN_SECONDS = 0.1


class _Inflating:
    """A raw body's chunks inflated a bounded piece at a time (``inflate.py``); the event loop
    runs between the pieces of one chunk.  An async iterator, not an async generator: nothing to
    finalise, and no generator frame kept alive per stream."""

    __slots__ = ("_inflater", "_raw")

    def __init__(self, raw: AsyncIterator[bytes], inflater: Inflater) -> None:
        self._raw = raw
        self._inflater = inflater

    def __aiter__(self) -> _Inflating:
        return self

    async def __anext__(self) -> bytes:
        inflater = self._inflater
        if inflater.has_more:
            await asyncio.sleep(0)  # a thousand pieces of one chunk must not hold the loop
            if piece := inflater.next_piece():
                return piece
        while True:
            try:
                raw = await self._raw.__anext__()
            except StopAsyncIteration:
                inflater.close()
                raise
            inflater.feed(raw)
            if piece := inflater.next_piece():
                return piece


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """``response``'s body as sent, or inflated within bounds if it came compressed anyway."""
    raw = response.aiter_raw().__aiter__()
    coding = content_coding(response.headers.get("content-encoding", ""))
    return raw if coding is None else _Inflating(raw, Inflater(coding))


class UpstreamCall:
    """One request to an upstream: ``async with UpstreamCall(...) as body`` sends it, gives its
    :class:`UpstreamBody` once the upstream answered 2xx, and closes the response on the way out,
    whatever happened (so a client that leaves frees the upstream connection at once).

    Must run inside ``deadline``; when it expires the try is cancelled there.  A class
    rather than an ``asynccontextmanager`` and an async generator: each of those keeps a
    generator frame alive for the whole stream.
    """

    __slots__ = ("_authorizer", "_chunks", "_client", "_deadline", "_lean", "_provider", "_request", "_response",
                 "_sent", "_write")

    def __init__(self, client: httpx.AsyncClient, request: UpstreamRequest, provider: Provider,
                 deadline: Deadline, write: Write, authorizer: Authorizer | None = None) -> None:
        self._client = client
        self._write = write
        self._authorizer = authorizer
        self._sent = request  # as it went out (signed, with its token)
        self._request = request
        self._provider = provider
        self._deadline = deadline
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._lean: ResponseBody | None = None  # the lean transport's body, read directly

    async def __aenter__(self) -> UpstreamBody:
        response = await self._send()
        if response.status_code == 401 and self._authorizer is not None:
            try:
                again = await self._authorizer.rejected(self._sent)
            except BaseException:
                await response.aclose()
                raise
            if again:  # the token was refused before it expired (revoked, rotated): once more, fresh
                await response.aclose()
                response = await self._send()
        self._response = response
        try:
            return await self._open_body(response)
        except BaseException:
            await response.aclose()
            raise

    async def _send(self) -> httpx.Response:
        request, deadline, t = self._request, self._deadline, self._deadline.timeouts
        client = self._client
        # httpx keeps the connect timeout; the waits for the status line and for each chunk have
        # limits of their own, kept by the deadline.
        http_timeout = httpx.Timeout(connect=t.connect, read=None, write=t.first_byte, pool=t.connect)
        deadline.waiting("first_byte", t.first_byte)
        try:
            if self._authorizer is not None:  # signed or given its token now, at the time it is sent
                request = await self._authorizer.authorize(request, client)
            self._sent = request
            response = await client.send(
                client.build_request(request.method, request.url, headers=request.headers,
                                     content=request.body, params=request.params or None, timeout=http_timeout),
                stream=True,
            )
        except httpx.ConnectTimeout:
            # Nothing was sent: as safe to retry as a refused connection.
            raise UpstreamConnectTimeout(f"the upstream did not accept the connection within {seconds(t.connect)} "
                                         "(timeouts.connect)") from None
        except httpx.TimeoutException:  # writing the request took too long
            raise deadline.expired() from None
        except httpx.TransportError as exc:
            if _out_of_descriptors(exc):
                raise OutOfDescriptors("the proxy has no file descriptor left to connect to the upstream "
                                       "(its RLIMIT_NOFILE): try again shortly") from None
            raise UpstreamUnavailable(f"could not reach the upstream ({_reason(exc)})") from None
        finally:
            deadline.done_waiting()
        return response

    async def _open_body(self, response: httpx.Response) -> UpstreamBody:
        deadline = self._deadline
        whole = await self._check(response, deadline.timeouts.idle)
        lean = body_of(response)
        if lean is not None and content_coding(response.headers.get("content-encoding", "")) is None:
            # One item per socket read, straight from the transport: none of httpx's iterator
            # layers (aiter_bytes, aiter_raw, the client's bound stream, the chunker).
            self._lean = lean
            self._chunks = lean
        else:  # the stock transport, or a body that came compressed anyway (inflated within bounds)
            self._chunks = body_chunks(response)
        if whole:
            # A 2xx ``application/json`` answer: the whole, non-streamed response, read here
            # (providers/whole_response.py turns it into the events its stream would have been).
            return WholeBody(await self._read_whole(), self._write)
        if self._lean is not None:
            return DirectBody(self.receive, self._write)
        # The frames of chunks received together leave in one write (coalesce.py), made with the
        # upstream's idle clock paused (the client's time is not its silence).
        return CoalescedBody(self, functools.partial(deadline.write_to_client, self._write))

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
        if content_type and not content_type.lower().startswith(self._provider.stream_content_type):
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

    async def receive(self) -> bytes:
        """The next socket read's bytes on the lean transport; ``b""`` at the body's end."""
        assert self._lean is not None
        deadline = self._deadline
        # A limit on each wait, never between them: the consumer's time is not silence.
        deadline.waiting("idle", deadline.timeouts.idle)
        try:
            return await self._lean.receive()
        except httpx.TransportError as exc:
            raise UpstreamTruncated(f"the upstream connection broke mid-stream ({_reason(exc)})") from None
        finally:
            deadline.done_waiting()

    async def __anext__(self) -> bytes:
        assert self._chunks is not None
        self._deadline.waiting("idle", self._deadline.timeouts.idle)
        try:
            return await self._chunks.__anext__()
        except httpx.TransportError as exc:
            # Before any output this is as good as a connection error: worth another try.
            raise UpstreamTruncated(f"the upstream connection broke mid-stream ({_reason(exc)})") from None
        except httpx.HTTPError as exc:  # the body is read raw, so httpx has nothing else to say; still ours
            raise UpstreamProtocolError(f"the upstream's body could not be read ({type(exc).__name__})") from None
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
            async for chunk in body_chunks(response):
                body += chunk
                if len(body) >= MAX_ERROR_BODY:
                    break
    except (httpx.HTTPError, TimeoutError, UpstreamProtocolError):
        pass  # the status says enough; a broken, stalled or bombing error body is not worth more
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


# What h11 (under httpx's own transport, which gives it httpcore's 100 KB cap) says of a head, or
# any line, that does not end within the cap.
_H11_TOO_LONG = "Receive buffer too long"


def _out_of_descriptors(exc: BaseException) -> bool:
    """Whether ``exc`` comes of this process (or the system) having no file descriptor left."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.EMFILE, errno.ENFILE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: httpx.TransportError) -> str:
    # The exception's text can carry the URL (with a query); its type is enough for a person.
    if isinstance(exc, ResponseHeadTooLarge) or str(exc) == _H11_TOO_LONG:
        return head_too_large()
    return {
        httpx.ConnectError: "connection failed",
        httpx.RemoteProtocolError: "the upstream broke the HTTP protocol or closed the connection",
        httpx.ReadError: "read failed",
        httpx.WriteError: "write failed",
        httpx.ProxyError: "proxy failed",
    }.get(type(exc), type(exc).__name__)


def open_source(request: ProviderRequest, client: Callable[[], httpx.AsyncClient], provider: Provider,
                deadline: Deadline, write: Write, authorizer: Authorizer | None = None,
                ) -> AbstractAsyncContextManager[UpstreamBody]:
    """What a provider built, opened: an HTTP call (on ``client()``), or a recording played back;
    either way its body, whose frames go to ``write``."""
    if isinstance(request, Recording):
        return open_replay(request, functools.partial(deadline.write_to_client, write))
    return UpstreamCall(client(), request, provider, deadline, write, authorizer)


@asynccontextmanager
async def open_replay(recording: Recording, write: Write) -> AsyncIterator[UpstreamBody]:
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

    yield CoalescedBody(chunks(), write)
