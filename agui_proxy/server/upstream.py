"""The one place that talks to an upstream.

It opens the streaming request, checks the status, hands the raw body chunks on, maps httpx's
exceptions to the project's own at this boundary, and always closes the upstream response, so a
client that leaves frees the upstream connection at once.  A replay upstream reads a recording
from disk instead, paced like a real provider.

The upstream's ``timeouts`` are enforced here: ``connect`` by httpx, ``first_byte`` (until the
status line) and ``idle`` (between two body chunks) as deadlines around each wait, so each ends
with an :class:`UpstreamTimeout` that names the one that ran out.  ``total`` spans retries and is
kept by the caller (``reliability.py``).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx

from ..config import TimeoutsConfig
from ..errors import (
    UpstreamConnectError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamStreamError,
    UpstreamTimeout,
)
from ..providers import Provider, UpstreamRequest
from ..providers.base import describe_error_body

MAX_ERROR_BODY = 64 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=10.0)


def new_client() -> httpx.AsyncClient:
    """The shared client: pooled connections, no redirects, no environment proxies or netrc."""
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False,
                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=100))


def _seconds(value: float) -> str:
    return f"{value:g} s"


@asynccontextmanager
async def open_http(client: httpx.AsyncClient, request: UpstreamRequest, provider: Provider,
                    timeouts: TimeoutsConfig | None = None) -> AsyncIterator[AsyncIterator[bytes]]:
    """Send ``request``; yields the body's chunks once the upstream answered 2xx."""
    t = timeouts or TimeoutsConfig()
    # httpx keeps the connect timeout; reads are bounded by the deadlines below instead, since
    # the wait for the status line and the silences of the body have different limits.
    http_timeout = httpx.Timeout(connect=t.connect, read=None, write=t.first_byte, pool=t.connect)
    try:
        with anyio.fail_after(t.first_byte):
            response = await client.send(
                client.build_request(request.method, request.url, headers=request.headers,
                                     content=request.body, params=request.params or None, timeout=http_timeout),
                stream=True,
            )
    except httpx.ConnectTimeout:
        # Nothing was sent: as safe to retry as a refused connection.
        raise UpstreamTimeout(f"the upstream did not accept the connection within {_seconds(t.connect)} "
                              "(timeouts.connect)", retryable=True) from None
    except (TimeoutError, httpx.TimeoutException):
        raise UpstreamTimeout(f"the upstream did not answer within {_seconds(t.first_byte)} "
                              "(timeouts.first_byte)") from None
    except httpx.TransportError as exc:
        raise UpstreamConnectError(f"could not reach the upstream ({_reason(exc)})") from None
    try:
        if not 200 <= response.status_code < 300:
            body = await _read_capped(response, t.idle)
            raise UpstreamHTTPError(response.status_code, provider.error_message(
                response.status_code, body, response.headers.get("content-type", "")),
                retry_after=retry_after_seconds(response.headers))
        content_type = response.headers.get("content-type", "")
        if content_type and not content_type.lower().startswith("text/event-stream"):
            # A wrong base_url (an HTML page) or a server that ignored "stream": true.
            detail = describe_error_body(await _read_capped(response, t.idle), content_type)
            raise UpstreamProtocolError(
                f"the upstream answered {response.status_code} with {content_type.split(';')[0]}, not an event stream"
                + (f": {detail}" if detail else ""))
        yield _chunks(response, t.idle)
    finally:
        await response.aclose()


async def _chunks(response: httpx.Response, idle: float) -> AsyncIterator[bytes]:
    chunks = response.aiter_bytes().__aiter__()
    while True:
        try:
            # A deadline per wait, never around the ``yield``: the consumer's time is not silence.
            with anyio.fail_after(idle):
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UpstreamTimeout(f"the upstream went silent for {_seconds(idle)} (timeouts.idle)") from None
        except httpx.TransportError as exc:
            # Before any output this is as good as a connection error: worth another try.
            raise UpstreamStreamError(f"the upstream connection broke mid-stream ({_reason(exc)})",
                                      code="upstream_truncated", retryable=True) from None
        yield chunk


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


@asynccontextmanager
async def open_replay(path: Path, chunk_size: int, interval: float) -> AsyncIterator[AsyncIterator[bytes]]:
    """A recorded stream played back in ``chunk_size`` pieces, ``interval`` seconds apart."""
    data = await anyio.Path(path).read_bytes()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk_size):
            if start and interval:
                await anyio.sleep(interval)
            yield data[start:start + chunk_size]

    yield chunks()
