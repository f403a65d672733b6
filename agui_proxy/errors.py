"""The one exception tree of agui-proxy.

    AGUIProxyError
    ├── ConfigError                  the YAML config is unusable (names file and field)
    ├── ListenError                  the server cannot listen where asked (the port is taken...)
    ├── InboundError                 the client's request is refused before streaming (4xx;
    │   │                            503 when the process is at its stream cap or shutting down)
    │   ├── AuthError                401: no credential, or one that does not prove who sent it
    │   └── QuotaExceeded            429: the sender is over one of its quotas
    ├── StoreUnavailable             the shared-state store (Redis) did not answer in time
    └── RunError                     the run fails after it started: RUN_ERROR {message, code}
        ├── UpstreamHTTPError        the provider answered with a non-2xx status
        │   ├── UpstreamAuthFailed       401, 403                     upstream_auth_failed
        │   ├── UpstreamRateLimited      429               (retried)  upstream_rate_limited
        │   ├── UpstreamRejected         any other 4xx                upstream_rejected
        │   └── UpstreamServerError      500, 502-504, 529 (retried)  upstream_unavailable
        │       └── UpstreamServerRefused  any other 5xx (501, 505, ...)
        ├── UpstreamUnavailable      the provider could not be reached (retried)
        ├── UpstreamTimeout          the provider was too slow            upstream_timeout
        │   └── UpstreamConnectTimeout   it did not accept the connection (retried)
        ├── UpstreamTruncated        the stream ended, or the connection broke, before the
        │                            provider's end marker (retried before any output)
        ├── UpstreamReportedError    the provider reported an error inside a 200 stream
        ├── UpstreamProtocolError    bytes that are not the provider's protocol (bad SSE, an
        │                            event over the size cap, JSON that does not parse)
        ├── ContentFiltered          the provider's safety filter stopped the response (final:
        │                            never retried, never sent to a fallback)
        ├── RunAborted               the proxy itself ended the run (shutting down)
        ├── RunAbandoned             a resumable run had no client attached for its linger
        ├── RunTooLarge              a resumable run passed its frame or byte cap
        ├── MaxStepsReached          the model still called server tools after max_steps  max_steps
        ├── RunStoreUnavailable      a resumable run's store failed while it went on
        ├── OutOfDescriptors         the proxy had no file descriptor left for the upstream's
        │                            connection (final: its own limit, not the upstream's fault)
        └── InternalError            a bug in the proxy; the stream still ends properly

Each class carries its ``RUN_ERROR`` code and whether trying again may help (``retryable``, only
ever acted on before any of the upstream's answer reached the client: docs/reliability.md) or
whether no other upstream should be tried either (``final``), as httpx's tree carries its meaning
in its classes.  Errors are translated at the boundary where they happen (the HTTP shell maps
httpx's exceptions to these), so the core never sees a library's exception type.  Every message
here is meant for a person and must never carry a key or a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class AGUIProxyError(Exception):
    """Base class of every error agui-proxy raises on purpose."""


class ConfigError(AGUIProxyError):
    """The configuration cannot be used.  ``str()`` names the file, the field and the problem."""

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None) -> None:
        self.path = path
        self.field = field
        self.detail = message
        # Every problem found in one pass over the config (``agui-proxy check`` lists them all).
        self.problems: tuple[ConfigError, ...] = (self,)
        where = ": ".join(part for part in (path, field) if part)
        super().__init__(f"{where}: {message}" if where else message)

    @classmethod
    def of(cls, problems: Sequence[ConfigError], path: str | None = None) -> ConfigError:
        """One error for ``problems`` (at least one): itself when alone, else one that lists them all."""
        if len(problems) == 1:
            return problems[0]
        listed = "\n".join(f"  {str(p).removeprefix(f'{path}: ') if path else p}" for p in problems)
        combined = cls(f"{len(problems)} problems:\n{listed}", path=path)
        combined.problems = tuple(problems)
        return combined


class ListenError(AGUIProxyError):
    """The server cannot listen on its address; ``str()`` names the address and what to do."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        super().__init__(f"cannot listen on {where}: {reason}")


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

    # Response headers the answer carries besides Retry-After (a subclass's challenge, quota state).
    headers: tuple[tuple[bytes, bytes], ...] = ()


class AuthError(InboundError):
    """401 ``unauthorized``: the request proves no identity.  An app's own ``authenticate`` callable
    raises it too.

    The answer carries ``WWW-Authenticate: Bearer`` (RFC 6750 section 3), with
    ``error="invalid_token"`` when a token was sent but refused (``invalid_token``); the message
    says why, never quoting the token.
    """

    def __init__(self, message: str, *, invalid_token: bool = True) -> None:
        super().__init__(401, "unauthorized", message)
        challenge = b'Bearer error="invalid_token"' if invalid_token else b"Bearer"
        self.headers = ((b"www-authenticate", challenge),)


class QuotaExceeded(InboundError):
    """429 ``rate_limited``: the sender is over a quota; the message names it and when it resets.

    ``headers`` are the ``RateLimit-Policy`` / ``RateLimit`` fields
    (draft-ietf-httpapi-ratelimit-headers) that go with the answer.
    """

    def __init__(self, message: str, *, retry_after: int,
                 headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(429, "rate_limited", message, retry_after=retry_after)
        self.headers = headers


class StoreUnavailable(AGUIProxyError):
    """The shared-state store (``store.url``) failed or did not answer within ``store.timeout``."""


class RunError(AGUIProxyError):
    """A failure after the stream started; ends the run with ``RUN_ERROR {message, code}``.

    ``code`` is one of the documented RUN_ERROR codes (docs/protocol.md, "Errors in the stream"); each subclass has its
    own.  ``retryable``: the same upstream may answer if asked again.  ``final``: no fallback
    upstream may be asked either (the answer would be the same, or must not be sought).
    """

    code: ClassVar[str] = "upstream_error"
    retryable: ClassVar[bool] = False
    final: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UpstreamHTTPError(RunError):
    """The upstream answered with a non-2xx status; build one with :func:`http_error`."""

    code = "upstream_rejected"

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after  # seconds the upstream asked us to wait (Retry-After)
        super().__init__(message)


class UpstreamAuthFailed(UpstreamHTTPError):
    """401 or 403: the upstream's key is wrong or lacks the right."""

    code = "upstream_auth_failed"


class UpstreamRateLimited(UpstreamHTTPError):
    """429: the provider asks us to slow down (Retry-After is honoured when retrying)."""

    code = "upstream_rate_limited"
    retryable = True


class UpstreamRejected(UpstreamHTTPError):
    """Another 4xx: a bad model, a context too long; asking again gives the same answer."""

    code = "upstream_rejected"


class UpstreamServerError(UpstreamHTTPError):
    """5xx (and Anthropic's 529 "overloaded", FORMATS.md section 0): a later try may not meet it."""

    code = "upstream_unavailable"
    retryable = True


class UpstreamServerRefused(UpstreamServerError):
    """Another 5xx (501, 505, ...): a server-side answer that will not change if asked again."""

    retryable = False


class UpstreamUnavailable(RunError):
    """The upstream could not be reached (refused, DNS, TLS, reset before a response)."""

    code = "upstream_unavailable"
    retryable = True


class OutOfDescriptors(RunError):
    """This process had no file descriptor left to connect to the upstream: the proxy's own
    limit (``RLIMIT_NOFILE``), never the upstream's fault, and no fallback would fare better."""

    code = "overloaded"
    final = True


class RunStoreUnavailable(RunError):
    """A resumable run's log (``store.url``) failed while the run went on: the run ended there."""

    code = "store_unavailable"


class UpstreamTimeout(RunError):
    """The upstream did not answer, or went silent, for longer than the configured timeout."""

    code = "upstream_timeout"


class UpstreamConnectTimeout(UpstreamTimeout):
    """The upstream did not accept the connection in time: nothing was sent, so try again."""

    retryable = True


class UpstreamTruncated(RunError):
    """The stream ended, or its connection broke, before the provider's end marker."""

    code = "upstream_truncated"
    retryable = True


class UpstreamReportedError(RunError):
    """The provider reported an error inside its 200 stream."""

    code = "upstream_error"


class UpstreamProtocolError(RunError):
    """The upstream sent bytes that break its own protocol (or exceed a size cap)."""

    code = "upstream_protocol_error"


class ContentFiltered(RunError):
    """The provider's safety filter stopped the response; never retried nor sent elsewhere."""

    code = "content_filtered"
    final = True


class RunAborted(RunError):
    """The proxy ended a run that was still going: the grace period of a shutdown ran out."""

    code = "shutdown"


class RunAbandoned(RunError):
    """A resumable run went on with no client attached for ``resumable.linger`` seconds: the
    upstream was closed, and this end is kept for a client that comes back later."""

    code = "abandoned"


class RunTooLarge(RunError):
    """A resumable run reached ``resumable.max_frames`` or ``max_bytes``: it ends rather than grow
    the memory (or the Redis stream) that keeps it."""

    code = "run_too_large"
    final = True


class MaxStepsReached(RunError):
    """A route with ``server_tools``: the model was still calling tools the proxy runs when the
    route's ``max_steps`` upstream calls were spent (docs/server-tools.md)."""

    code = "max_steps"
    final = True


class InternalError(RunError):
    """A bug in the proxy; the run still ends with its RUN_ERROR and terminator."""

    code = "internal_error"


# A server-side failure that a later try may not meet: 529 is Anthropic's "overloaded"
# (FORMATS.md section 0); 501 and 505 are answers that will not change.
RETRYABLE_SERVER_STATUSES = frozenset({500, 502, 503, 504, 529})


def http_error(status: int, message: str, *, retry_after: float | None = None) -> UpstreamHTTPError:
    """The error for an upstream's non-2xx answer, of the class its status calls for."""
    cls: type[UpstreamHTTPError]
    if status in (401, 403):
        cls = UpstreamAuthFailed
    elif status == 429:
        cls = UpstreamRateLimited
    elif status in RETRYABLE_SERVER_STATUSES:
        cls = UpstreamServerError
    elif status >= 500:
        cls = UpstreamServerRefused
    else:
        cls = UpstreamRejected
    return cls(status, message, retry_after=retry_after)
