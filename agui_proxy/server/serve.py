"""Running the proxy under uvicorn: one process, or several worker processes on one socket.

One worker serves the app object the CLI built.  Several workers each build their own app in
their own process (uvicorn starts them fresh and needs an import string to do it): the CLI
passes the config file's path in ``AGUI_PROXY_CONFIG`` and uvicorn calls :func:`app_from_env`
in each worker.  The same factory serves any other ASGI server::

    AGUI_PROXY_CONFIG=agui.yaml uvicorn --factory agui_proxy.server.serve:app_from_env --workers 4

The proxy keeps no state between requests, so workers share nothing but the metrics: the CLI
points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh temporary directory before the workers start
(unless the operator set one) and removes it when they have stopped.
"""

from __future__ import annotations

import logging.config
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from ..config import Config, default_config
from .access_log import logging_config
from .app import AGUIProxyMiddleware, create_app
from .header_timeout import ServerConfig
from .log_redaction import install_log_redaction
from .metrics import MULTIPROC_ENV
from .shutdown import BACKSTOP

CONFIG_ENV = "AGUI_PROXY_CONFIG"
FACTORY = f"{__name__}:app_from_env"


def app_from_env() -> AGUIProxyMiddleware:
    """The app of one worker: the config file named by ``AGUI_PROXY_CONFIG`` (unset: the demo)."""
    path = os.environ.get(CONFIG_ENV)
    return _served(create_app(path if path else default_config()))


def _served(proxy: AGUIProxyMiddleware) -> AGUIProxyMiddleware:
    """``proxy`` as a server process of its own serves it: SIGTERM drains its streams, and no log
    line of the process carries a key or token."""
    proxy.drain_on_exit_signals = True
    install_log_redaction(proxy.redactor)  # after the server configured its handlers
    return proxy


def run(config: Config, *, config_path: str | None, workers: int = 1, log_level: str | None = None,
        loop: str = "auto", http: str = "auto") -> bool:
    """Serve ``config`` (loaded from ``config_path``; ``None``: the embedded default) until stopped.

    ``loop`` and ``http`` pick uvicorn's event loop and HTTP/1.1 parser (``auto``: uvloop and
    httptools when installed).  False when the server could not start (the port is taken...)."""
    log_config = logging_config(config.logging, log_level)
    logging.config.dictConfig(log_config)  # for what the app logs while it is built, before uvicorn's start
    # uvicorn's access log is off: the proxy writes its own line per request (server/access_log.py),
    # which never holds a query string.
    # uvicorn cancels what still runs past its graceful timeout; the drain (shutdown.py) ends every
    # stream with its RUN_ERROR and terminator before that.
    grace = int(config.streams.shutdown_grace + BACKSTOP)
    options: dict[str, Any] = {"host": config.server.host, "port": config.server.port, "log_config": log_config,
                               "access_log": False, "lifespan": "on", "loop": loop, "http": http,
                               "timeout_graceful_shutdown": grace}
    if workers == 1:
        proxy = create_app(config)
        server_config = ServerConfig(proxy, header_timeout=config.server.header_timeout, **options)  # + log handlers
        server = uvicorn.Server(server_config)
        _served(proxy)
        server.run()
        return server.started

    if config_path is None:
        os.environ.pop(CONFIG_ENV, None)
    else:
        os.environ[CONFIG_ENV] = str(Path(config_path).resolve())
    own_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        own_dir = tempfile.mkdtemp(prefix="agui-proxy-metrics-")
        os.environ[MULTIPROC_ENV] = own_dir
    try:
        # What uvicorn.run does for workers, with the config that carries header_timeout.
        workers_config = ServerConfig(FACTORY, factory=True, workers=workers,
                                      header_timeout=config.server.header_timeout, **options)
        Multiprocess(workers_config, sockets=[workers_config.bind_socket()]).run()
        return True
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
