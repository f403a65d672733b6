"""The one place that talks to an upstream.

It opens the streaming request, checks the status, hands the raw body chunks on, maps httpx's
exceptions to the project's own at this boundary, and always closes the upstream response, so a
client that leaves frees the upstream connection at once.  A replay upstream reads a recording
from disk instead, paced like a real provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx

from ..errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamStreamError,
    UpstreamTimeout,
)
from ..providers import Provider, UpstreamRequest
from ..providers.base import describe_error_body

MAX_ERROR_BODY = 64 * 1024
MAX_DRAIN_BYTES = 64 * 1024  # what is read after the end of a run to keep the connection (see _drain)
DRAIN_SECONDS = 0.1
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=10.0)


def new_client() -> httpx.AsyncClient:
    """The shared client: pooled connections, no redirects, no environment proxies or netrc."""
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False,
                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=100))


@asynccontextmanager
async def open_http(client: httpx.AsyncClient, request: UpstreamRequest,
                    provider: Provider) -> AsyncIterator[AsyncIterator[bytes]]:
    """Send ``request``; yields the body's chunks once the upstream answered 2xx."""
    try:
        response = await client.send(
            client.build_request(request.method, request.url, headers=request.headers,
                                 content=request.body, params=request.params or None),
            stream=True,
        )
    except httpx.TimeoutException:
        raise UpstreamTimeout("the upstream did not answer in time") from None
    except httpx.TransportError as exc:
        raise UpstreamConnectError(f"could not reach the upstream ({_reason(exc)})") from None
    try:
        if not 200 <= response.status_code < 300:
            body = await _read_capped(response)
            raise UpstreamHTTPError(response.status_code, provider.error_message(
                response.status_code, body, response.headers.get("content-type", "")))
        content_type = response.headers.get("content-type", "")
        if content_type and not content_type.lower().startswith("text/event-stream"):
            # A wrong base_url (an HTML page) or a server that ignored "stream": true.
            detail = describe_error_body(await _read_capped(response), content_type)
            raise UpstreamProtocolError(
                f"the upstream answered {response.status_code} with {content_type.split(';')[0]}, not an event stream"
                + (f": {detail}" if detail else ""))
        chunks = _chunks(response)
        yield chunks
        await _drain(chunks)  # only when the caller is done with the body, never on an error or cancellation
    finally:
        await response.aclose()


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read the little that follows the provider's end marker, so the connection goes back to the pool.

    The run ends at ``data: [DONE]`` (or ``message_stop``...), but the HTTP body ends a moment later
    (the last chunk of a chunked body).  Closing a response before its body's end makes httpcore
    drop the connection, and the next request pays a new TCP (and TLS) handshake: measured in the
    bench as connection set-up on every request.  Bounded in bytes and time, since an upstream may
    keep the body open after its end marker.
    """
    received = 0
    with anyio.move_on_after(DRAIN_SECONDS):
        try:
            async for chunk in chunks:
                received += len(chunk)
                if received > MAX_DRAIN_BYTES:
                    return
        except UpstreamError:
            return  # the connection is lost anyway; aclose() cleans up


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx.TimeoutException:
        raise UpstreamTimeout("the upstream went silent for longer than the read timeout") from None
    except httpx.TransportError as exc:
        raise UpstreamStreamError(f"the upstream connection broke mid-stream ({_reason(exc)})",
                                  code="upstream_truncated") from None


async def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass  # the status says enough; a broken error body is not worth more
    return bytes(body)


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
