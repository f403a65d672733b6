"""The one exception tree of agui-proxy.

    AGUIProxyError
    ├── ConfigError              the YAML config is unusable (names file and field)
    ├── InboundError             the client's request is refused before streaming (4xx;
    │                            503 when the process is at its stream cap or shutting down)
    └── UpstreamError            the run fails after it started: becomes RUN_ERROR {message, code}
        ├── UpstreamProtocolError    bytes that are not the provider's protocol (bad SSE,
        │                            an event over the size cap, JSON that does not parse)
        ├── UpstreamHTTPError        the provider answered with a non-2xx status
        ├── UpstreamConnectError     the provider could not be reached
        ├── UpstreamTimeout          the provider was too slow
        ├── UpstreamStreamError      the provider reported an error inside a 200 stream,
        │                            or the stream ended before its end marker
        └── RunAborted               the proxy itself ended the run (shutting down)

Errors are translated at the boundary where they happen (the HTTP shell maps httpx's
exceptions to these), so the core never sees a library's exception type.  Every message
here is meant for a person and must never carry a key or a token.
"""

from __future__ import annotations


class AGUIProxyError(Exception):
    """Base class of every error agui-proxy raises on purpose."""


class ConfigError(AGUIProxyError):
    """The configuration cannot be used.  ``str()`` names the file, the field and the problem."""

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None) -> None:
        self.path = path
        self.field = field
        self.detail = message
        where = ": ".join(part for part in (path, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


class InboundError(AGUIProxyError):
    """A request refused before any stream starts (PROTOCOL.md section 3).

    ``status`` is the HTTP status, ``type`` the machine-readable error type of the JSON body
    ``{"error": {"type", "message"}}``.
    """

    def __init__(self, status: int, type: str, message: str, *, retry_after: int | None = None) -> None:
        self.status = status
        self.type = type
        self.message = message
        self.retry_after = retry_after  # seconds, sent as Retry-After (503 overload, shutdown)
        super().__init__(message)


class UpstreamError(AGUIProxyError):
    """A failure after the stream started; ends the run with ``RUN_ERROR {message, code}``.

    ``code`` is one of the documented RUN_ERROR codes (README, "Errors").
    """

    code = "upstream_error"
    # Whether trying the same upstream again may help (a refused connection, a 503).  Only ever
    # acted on before any of the upstream's answer reached the client (README "Reliability").
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None) -> None:
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        self.message = message
        super().__init__(message)


class UpstreamProtocolError(UpstreamError):
    """The upstream sent bytes that break its own protocol (or exceed a size cap)."""

    code = "upstream_protocol_error"


class UpstreamHTTPError(UpstreamError):
    """The upstream answered with a non-2xx status; ``code`` depends on the status."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after  # seconds the upstream asked us to wait (Retry-After)
        super().__init__(message, code=http_status_code(status), retryable=status in RETRYABLE_STATUSES)


class UpstreamConnectError(UpstreamError):
    """The upstream could not be reached (refused, DNS, TLS, reset before a response)."""

    code = "upstream_unavailable"
    retryable = True


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer, or went silent, for longer than the configured timeout."""

    code = "upstream_timeout"


class UpstreamStreamError(UpstreamError):
    """An error the provider reported inside its stream, or a stream cut off early."""


class RunAborted(UpstreamError):
    """The proxy ended a run that was still going: the grace period of a shutdown ran out."""

    code = "shutdown"


# Rate limited, or a server-side failure that a later try may not meet: 529 is Anthropic's
# "overloaded" (FORMATS.md section 0); 501 and 505 are answers that will not change.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 529})


def http_status_code(status: int) -> str:
    """The RUN_ERROR code for an upstream HTTP status."""
    if status in (401, 403):
        return "upstream_auth_failed"
    if status == 429:
        return "upstream_rate_limited"
    if status >= 500:
        return "upstream_unavailable"
    return "upstream_rejected"
