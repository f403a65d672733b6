"""Prometheus metrics of the proxy, every name prefixed ``agui_proxy_``.

One :class:`Metrics` per app, with its own registry (several apps in one process never clash).
With several worker processes, ``prometheus_client``'s multiprocess mode is used: the CLI sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory before the workers start, each worker writes
its values to files there, and ``/metrics`` (served by any worker) adds them all up.  The mode is
chosen when ``prometheus_client`` is first imported, from that environment variable.  Under
another server's workers (``uvicorn --workers N`` with the factory), where nobody set it, each
worker is a ``multiprocessing`` child of the server's supervisor: :func:`share_between_workers`
then picks the directory named after that supervisor, the same for every one of its workers, and
switches ``prometheus_client`` to its multiprocess values before any metric exists.

Metrics are recorded once per request when it ends (:meth:`Metrics.observe`), never per chunk:
the streaming path stays as it was.  :meth:`Metrics.retry` and :meth:`Metrics.fallback` are for
the code that retries an upstream or falls back to another one.
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import re
import shutil
import tempfile

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from ..errors import ConfigError
from ..quotas import QuotaMetrics
from .context import RequestContext

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The text format every Prometheus server reads (version 0.0.4), which generate_latest writes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds.  Providers answer in tens of milliseconds (a cache hit) to tens of seconds (a long
# prompt, a reasoning model thinking before its first token).
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
# A stream lasts from under a second to many minutes (long reasoning, long answers).
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


WORKERS_DIR_PREFIX = "agui-proxy-workers-"  # + the supervisor's pid, in the temporary directory


def share_between_workers() -> str | None:
    """In a worker process of a server's supervisor with no ``PROMETHEUS_MULTIPROC_DIR`` set: set
    it to the directory every worker of that supervisor shares, and return it.

    The directories of supervisors that are gone are removed on the way (their workers are too).
    Not detected: servers that fork their workers without ``multiprocessing`` (gunicorn); there,
    set ``PROMETHEUS_MULTIPROC_DIR`` (docs/operations.md, "Hosting modes").
    """
    if os.environ.get(MULTIPROC_ENV) or multiprocessing.parent_process() is None:
        return None
    base = tempfile.gettempdir()
    for stale in glob.glob(os.path.join(base, WORKERS_DIR_PREFIX + "*")):
        pid = stale.rpartition("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    path = os.path.join(base, f"{WORKERS_DIR_PREFIX}{os.getppid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.environ[MULTIPROC_ENV] = path
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]  # every metric made from now on
    return path


class Metrics:
    def __init__(self) -> None:
        share_between_workers()
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        if self.multiprocess_dir and not os.path.isdir(self.multiprocess_dir):
            raise ConfigError(f"{MULTIPROC_ENV}={self.multiprocess_dir} is not a directory (create it, empty)")
        if self.multiprocess_dir and not getattr(values.ValueClass, "_multiprocess", False):
            raise RuntimeError(f"{MULTIPROC_ENV} was set after prometheus_client was imported: "
                               "set it before the process starts")
        # Multiprocess mode: values go to the directory's files; /metrics reads them all back.
        registry = None if self.multiprocess_dir else CollectorRegistry()
        self._registry = registry

        self.requests = Counter(
            "agui_proxy_requests", "Requests to the proxy's routes, by route, upstream and outcome "
            "(ok, error, rejected, disconnected, preflight, internal_error).",
            ["route", "upstream", "outcome"], registry=registry)
        self.active_streams = Gauge(
            "agui_proxy_active_streams", "Streams being served now.", registry=registry,
            multiprocess_mode="livesum")
        self.first_byte = Histogram(
            "agui_proxy_upstream_first_byte_seconds",
            "From the request's arrival to the first chunk of the upstream's streamed body.",
            ["upstream"], buckets=LATENCY_BUCKETS, registry=registry)
        self.first_event = Histogram(
            "agui_proxy_first_event_seconds",
            "From the request's arrival to the first AG-UI event made from upstream content.",
            ["upstream"], buckets=LATENCY_BUCKETS, registry=registry)
        self.stream_duration = Histogram(
            "agui_proxy_stream_duration_seconds", "From the request's arrival to the end of its stream.",
            ["upstream", "outcome"], buckets=DURATION_BUCKETS, registry=registry)
        self.tokens = Counter(
            "agui_proxy_tokens", "Tokens the upstreams reported (RUN_FINISHED usage), by direction "
            "(input, output).", ["upstream", "direction"], registry=registry)
        self.run_errors = Counter(
            "agui_proxy_run_errors", "Runs that ended with RUN_ERROR, by its code.", ["upstream", "code"],
            registry=registry)
        self.retries = Counter(
            "agui_proxy_upstream_retries", "Requests sent again to an upstream after a failure before "
            "its first byte.", ["upstream"], registry=registry)
        self.fallbacks = Counter(
            "agui_proxy_upstream_fallbacks", "Runs handed to a route's fallback upstream after the one "
            "before failed.", ["route", "from_upstream", "to_upstream"], registry=registry)
        self.tool_calls = Counter(
            "agui_proxy_tool_calls", "Server-side tool calls the proxy ran for the model (docs/server-tools.md), "
            "by MCP server, tool and outcome (ok, error, timeout, too_large, unavailable, declined).",
            ["server", "tool", "outcome"], registry=registry)
        self.quotas = QuotaMetrics(registry)  # refusals, store errors and round trips (quotas/metrics.py)

    # -- recording ---------------------------------------------------------------------------

    def stream_opened(self) -> None:
        self.active_streams.inc()

    def stream_closed(self) -> None:
        self.active_streams.dec()

    def observe(self, context: RequestContext) -> None:
        """Record one request that ended."""
        outcome = context.outcome
        self.requests.labels(context.route, context.upstream, outcome).inc()
        if not context.streamed:
            return
        upstream = context.upstream
        if (first_byte := context.seconds(context.first_byte)) is not None:
            self.first_byte.labels(upstream).observe(first_byte)
        if (first_event := context.seconds(context.first_event)) is not None:
            self.first_event.labels(upstream).observe(first_event)
        self.stream_duration.labels(upstream, outcome).observe(context.duration)
        usage = context.usage
        if usage is not None:
            if usage.input_tokens:
                self.tokens.labels(upstream, "input").inc(usage.input_tokens)
            if usage.output_tokens:
                self.tokens.labels(upstream, "output").inc(usage.output_tokens)
        code = context.error_code
        if code is not None:
            self.run_errors.labels(upstream, code).inc()
        for call in context.tool_calls or ():
            self.tool_calls.labels(call.server, call.tool, call.outcome).inc()

    def retry(self, upstream: str) -> None:
        """An upstream request is sent again (after a connection error or a retryable status)."""
        self.retries.labels(upstream).inc()

    def fallback(self, route: str, from_upstream: str, to_upstream: str) -> None:
        """A route's run moves from one upstream to its next fallback."""
        self.fallbacks.labels(route, from_upstream, to_upstream).inc()

    # -- exposition --------------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition (every worker's values added up in multiprocess mode)."""
        if self._registry is not None:
            return generate_latest(self._registry)
        assert self.multiprocess_dir is not None
        self._forget_dead_workers()
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def _forget_dead_workers(self) -> None:
        """Drop the live gauges of workers that died without cleaning up (killed, crashed).

        Counters and histograms of a dead worker stay (its requests happened); its
        ``active_streams`` are over.
        """
        assert self.multiprocess_dir is not None
        for path in glob.glob(os.path.join(self.multiprocess_dir, "gauge_live*.db")):
            match = _LIVE_GAUGE_FILE.search(path)
            if match and not _alive(int(match.group(1))):
                mark_process_dead(int(match.group(1)), self.multiprocess_dir)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """This worker is stopping: its streams no longer count as active."""
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user
        return True
    return True
