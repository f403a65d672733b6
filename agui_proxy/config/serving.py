"""How this process serves: where it listens (``server:``), what one request may send (``limits:``)
and how many streams it carries at once (``streams:``)."""

from __future__ import annotations

from pydantic import Field

from .strict import Strict

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


class ListenConfig(Strict):
    """The ``server:`` section: the address the CLI's server listens on, its workers, its header timeout."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=256)  # --workers overrides
    # Seconds a connection has to send complete request headers (from its opening, and after each
    # response while kept alive) before the CLI's server closes it (serving/header_timeout.py).
    header_timeout: float = Field(10.0, gt=0)


class LimitsConfig(Strict):
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1)
    max_event_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    body_timeout: float = Field(30.0, gt=0)  # seconds to receive the whole request body; past it 408
    # A request's head (request line and headers) past these gets 431, before anything else is
    # done with it (serving/header_limits.py, middleware/header_count.py): its size in bytes, and
    # its number of header fields.
    max_header_bytes: int = Field(64 * 1024, ge=1024)  # a JWT and a page's cookies fit
    max_headers: int = Field(100, ge=8)  # as Apache's LimitRequestFields


class StreamsConfig(Strict):
    """Limits and lifecycle of the streams one process serves."""

    max_concurrent: int = Field(1000, ge=1)  # past it: 503 with Retry-After
    retry_after: int = Field(1, ge=0)  # seconds, in the Retry-After of those 503s
    keepalive: float = Field(15.0, ge=0)  # seconds of silence before a ": ping" comment; 0: never
    shutdown_grace: float = Field(25.0, ge=0)  # seconds streams get to finish after SIGTERM
    # Seconds a client may take nothing of what the proxy writes before its connection is closed
    # (nginx's send_timeout); its stream slot, lease and memory are freed then (serving/send_timeout.py).
    send_timeout: float = Field(30.0, gt=0)
