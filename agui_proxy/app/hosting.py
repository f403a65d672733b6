"""The same operations wherever the proxy runs: the CLI, another server's workers, or in front
of an app (docs/operations.md, "Hosting modes").

- The CLI configures logging, the metrics directory of its workers and the signals itself.
- Under another ASGI server through the factory (``uvicorn --factory
  agui_proxy.serving.serve:app_from_env --workers 4``), each worker configures the proxy's logging
  when the server left it unconfigured (:func:`configure_worker_logging`), its metrics are shared
  with the other workers of the same supervisor (``metrics.share_between_workers``), and it says
  so in one start line (:func:`hosting_line`).
- In front of another app (:class:`~agui_proxy.app.proxy.AGUIProxyMiddleware` wrapping one), the
  probes and ``/metrics`` would land on the app's public paths: they are off unless the config has
  their section (:func:`middleware_config`), and the access lines reach stdout when the app's
  server configured nothing for them (``access_log.ensure_log_output``).
"""

from __future__ import annotations

import logging
import logging.config
import os

from ..config import Config
from ..middleware.access_log import configured, logging_config
from ..middleware.metrics import MULTIPROC_ENV
from ..version import __version__

log = logging.getLogger("agui_proxy.startup")


def middleware_config(config: Config) -> Config:
    """``config`` as served in front of an app: the probes and ``/metrics`` only where asked for."""
    update = {}
    for section in ("probes", "metrics"):
        if section not in config.model_fields_set:  # no "probes:" / "metrics:" in the file
            update[section] = getattr(config, section).model_copy(update={"enabled": False})
    return config.model_copy(update=update) if update else config


def configure_worker_logging(config: Config) -> None:
    """A worker started by another server: the proxy's log setup (the JSON format for the server's
    lines too), unless the server was already given it (the CLI's workers are)."""
    if not configured():
        logging.config.dictConfig(logging_config(config.logging))


def metrics_scope() -> str:
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        return f"one set across the workers (files in {directory})"
    return "this process only (several workers: set PROMETHEUS_MULTIPROC_DIR to one empty directory)"


def hosting_line(config: Config, mode: str, access_log: str) -> str:
    """What this process serves and which operations it provides, in one line (``access_log``:
    where its lines go, from ``ensure_log_output``)."""
    endpoints = [path for on, path in ((config.probes.enabled, config.probes.liveness_path),
                                       (config.probes.enabled, config.probes.readiness_path),
                                       (config.metrics.enabled, config.metrics.path)) if on]
    routes = ", ".join(route.path for route in config.routes)
    return (f"agui-proxy {__version__} {mode} (pid {os.getpid()}): routes {routes}; "
            f"operations endpoints {', '.join(endpoints) or 'off (add probes: / metrics: to the config)'}; "
            f"metrics {metrics_scope()}; access log {access_log}")
