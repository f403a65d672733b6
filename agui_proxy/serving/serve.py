"""Running the proxy under uvicorn: one process, or several worker processes on one socket.

One worker serves the app object the CLI built.  Several workers each build their own app in
their own process (uvicorn starts them fresh and needs an import string to do it): the CLI
passes the config file's path in ``AGUI_PROXY_CONFIG`` and uvicorn calls :func:`app_from_env`
in each worker.  The same factory serves any other ASGI server::

    AGUI_PROXY_CONFIG=agui.yaml uvicorn --factory agui_proxy.serving.serve:app_from_env --workers 4

The proxy keeps no state between requests, so workers share nothing but the metrics: the CLI
points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh temporary directory before the workers start
(unless the operator set one) and removes it when they have stopped.
"""

from __future__ import annotations

import contextlib
import errno
import logging.config
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from ..app.hosting import configure_worker_logging, hosting_line
from ..app.proxy import AGUIProxyMiddleware, create_app
from ..app.shutdown import BACKSTOP, EXIT_SIGNALS
from ..config import Config, default_config, load_config
from ..errors import ListenError
from ..middleware.access_log import ensure_log_output, logging_config
from ..middleware.metrics import MULTIPROC_ENV
from .descriptors import plan_descriptors
from .header_timeout import UvicornConfig
from .log_redaction import install_log_redaction

log = logging.getLogger("agui_proxy.startup")
CONFIG_ENV = "AGUI_PROXY_CONFIG"
FACTORY = f"{__name__}:app_from_env"
BACKLOG = 2048  # uvicorn's default


def app_from_env() -> AGUIProxyMiddleware:
    """The app of one worker: the config file named by ``AGUI_PROXY_CONFIG`` (unset: the demo).

    Under another server than the CLI it also sets up the proxy's logging (app/hosting.py), and says
    in one line what the worker provides."""
    path = os.environ.get(CONFIG_ENV)
    config, _ = plan_descriptors(load_config(path) if path else default_config())
    configure_worker_logging(config)
    proxy = _served(create_app(config))
    log.info(hosting_line(proxy.config, "worker", ensure_log_output(config.logging)))
    return proxy


def _served(proxy: AGUIProxyMiddleware) -> AGUIProxyMiddleware:
    """``proxy`` as a server process of its own serves it: SIGTERM drains its streams, and no log
    line of the process carries a key or token."""
    proxy.drain_on_exit_signals = True
    install_log_redaction(proxy.redactor)  # after the server configured its handlers
    return proxy


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (not yet listening: :func:`listen_after`), so that a taken
    address is known before anything is announced.  Raises :class:`ListenError` naming the
    address, with what to do about it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: restart over TIME_WAIT
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(host, port, _bind_advice(exc)) from None
    except OverflowError:  # a port past 65535 (the CLI refuses it earlier)
        sock.close()
        raise ListenError(host, port, "not a port (0-65535)") from None
    sock.set_inheritable(True)  # the worker processes serve it too
    return sock


def listen_after(sock: socket.socket, announce: Callable[[int], None] | None) -> None:
    """Announce what is served on the bound ``sock`` (its port: the one port 0 got), then listen:
    a client that connects has the announcement already (connections wait in the backlog until
    the server accepts them)."""
    if announce is not None:
        announce(sock.getsockname()[1])
    try:
        sock.listen(BACKLOG)
    except OSError as exc:  # another server bound the same port meanwhile and listened first
        host, port = sock.getsockname()[:2]
        raise ListenError(host, port, _bind_advice(exc)) from None


def _bind_advice(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use (another server is listening there); choose another port with --port"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges); choose another port with --port"
    if exc.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME) or isinstance(exc, socket.gaierror):
        return f"no such local address ({exc.strerror}); choose another with --host"
    return f"{exc.strerror or exc}; choose another address with --host / --port"


def run(config: Config, *, config_path: str | None, workers: int = 1, log_level: str | None = None,
        loop: str = "auto", http: str = "auto", announce: Callable[[int], None] | None = None) -> bool:
    """Serve ``config`` (loaded from ``config_path``; ``None``: the embedded default) until stopped.

    ``loop`` and ``http`` pick uvicorn's event loop and HTTP/1.1 parser (``auto``: uvloop and
    httptools when installed).  ``announce(port)`` is called once the socket is bound, before it
    listens (with the port it got, for port 0).  Raises :class:`ListenError` when the address cannot be had; false
    when the server could not start otherwise.  Ctrl-C (SIGINT) stops it as SIGTERM does."""
    log_config = logging_config(config.logging, log_level)
    logging.config.dictConfig(log_config)  # for what the app logs while it is built, before uvicorn's start
    # uvicorn's access log is off: the proxy writes its own line per request (middleware/access_log.py),
    # which never holds a query string.
    # uvicorn cancels what still runs past its graceful timeout; the drain (app/shutdown.py) ends every
    # stream with its RUN_ERROR and terminator before that.
    grace = int(config.streams.shutdown_grace + BACKSTOP)
    options: dict[str, Any] = {"host": config.server.host, "port": config.server.port, "log_config": log_config,
                               "access_log": False, "lifespan": "on", "loop": loop, "http": http,
                               "timeout_graceful_shutdown": grace}
    if workers == 1:
        proxy = create_app(config)  # before binding: an app that cannot be built serves nothing
        # UvicornConfig carries header_timeout and send_timeout; building it configures the log handlers.
        server = _Server(UvicornConfig(proxy, header_timeout=config.server.header_timeout,
                                       send_timeout=config.streams.send_timeout,
                                       max_header_bytes=config.limits.max_header_bytes, **options))
        _served(proxy)
        with bind(config.server.host, config.server.port) as sock:
            listen_after(sock, announce)
            _until_interrupted(server.run, [sock])
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
        # What uvicorn.run does for workers, with the config that carries header_timeout, on the
        # socket bound here (so that a taken port is reported before anything is announced).
        workers_config = UvicornConfig(FACTORY, factory=True, workers=workers,
                                       header_timeout=config.server.header_timeout,
                                       send_timeout=config.streams.send_timeout,
                                       max_header_bytes=config.limits.max_header_bytes, **options)
        with bind(config.server.host, config.server.port) as sock:
            supervisor = Multiprocess(workers_config, sockets=[sock])  # takes SIGINT / SIGTERM from here on
            listen_after(sock, announce)
            _until_interrupted(lambda sockets: supervisor.run(), [sock])
        return True
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)


class _Server(uvicorn.Server):
    """uvicorn's server, taking the exit signals from the moment the socket is bound.

    Between announcing the address and uvicorn installing its handlers (it does so when its
    event loop starts), a Ctrl-C or SIGTERM would interrupt whatever runs then; this server
    records them from its creation and hands them to uvicorn's own handler as soon as that is
    installed, so they stop the server as one arriving a moment later would.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._early: list[int] = []
        if threading.current_thread() is threading.main_thread():
            for sig in EXIT_SIGNALS:
                signal.signal(sig, lambda signum, frame: self._early.append(signum))

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            for signum in self._early:
                self.handle_exit(signum, None)
            yield


def _until_interrupted(serve: Callable[[list[socket.socket]], None], sockets: list[socket.socket]) -> None:
    """``serve(sockets)``; Ctrl-C ends it quietly.

    uvicorn's server turns SIGINT into a graceful shutdown and, once done, raises the signal
    again so that the default behaviour follows (``KeyboardInterrupt``); ``uvicorn.run`` swallows
    it, and so does this, since the shutdown it asked for has happened.
    """
    try:
        serve(sockets)
    except KeyboardInterrupt:
        pass
