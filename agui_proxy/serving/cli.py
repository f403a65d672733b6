"""``agui-proxy``: serve the configured routes with uvicorn, or check a config without serving.

With no ``--config`` it serves the embedded default: ``POST /api/agent`` answered by a recorded
provider stream replayed through the same decoder and translator as a real upstream, so the
proxy can be tried with no API key.  ``agui-proxy check --config F`` (or ``--check``) validates
the file and everything the proxy builds from it, lists every problem at once, and exits 0 or 2.

Exit statuses: 0 (stopped, Ctrl-C included, or a valid config checked), 2 (a bad flag or
config), 3 (the server could not start: its address is taken...).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Sequence

from ..config import Config, default_config, load_config
from ..errors import ConfigError, ListenError
from ..version import __version__
from .summary import render, summary

DEMO_BODY = '{"params":{"messages":[{"role":"user","content":"What is the weather in Paris?"}]}}'
CANNOT_START = 3
log = logging.getLogger("agui_proxy")


def _installed(module: str, fallback: str) -> str:
    return module if importlib.util.find_spec(module) is not None else fallback


def _port(text: str) -> int:
    port = _whole_number(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0-65535; 0: any free port)")
    return port


def _workers(text: str) -> int:
    workers = _whole_number(text)
    if workers < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    if workers > 256:  # as server.workers
        raise argparse.ArgumentTypeError(f"must be at most 256, not {text}")
    return workers


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _host(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty (an address such as 127.0.0.1 or 0.0.0.0)")
    return text.strip()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agui-proxy", description="Stream LLM providers to AG-UI frontends.")
    parser.add_argument("command", nargs="?", choices=["serve", "check"], default="serve",
                        help="serve (the default), or check the config and exit (0: valid, 2: not)")
    parser.add_argument("--version", action="version", version=f"agui-proxy {__version__}")
    parser.add_argument("--check", action="store_const", const="check", dest="check",
                        help="the same as the check command")
    parser.add_argument("--config", metavar="PATH", help="YAML config file (default: the embedded demo)")
    parser.add_argument("--host", type=_host, help="address to listen on (overrides server.host)")
    parser.add_argument("--port", type=_port, help="port to listen on, 0-65535 (overrides server.port)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="overrides logging.level (default: info)")
    parser.add_argument("--workers", type=_workers, help="worker processes (overrides server.workers; default: 1)")
    # uvloop and httptools are dependencies and the defaults: 8-13% less CPU per token in the full
    # run, 19% less per request in the earlier one, and 2,000 streams held at once where asyncio +
    # h11 gave none its first token within 5 s (bench/OPTIMISATIONS.md).  asyncio and h11 stay
    # selectable, and are the fallback where uvloop has no build (Windows).
    parser.add_argument("--loop", default=_installed("uvloop", "asyncio"), choices=["uvloop", "asyncio"],
                        help="event loop (default: %(default)s)")
    parser.add_argument("--http", default=_installed("httptools", "h11"), choices=["httptools", "h11"],
                        help="HTTP/1.1 parser (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        args.command = "check"
    return args


def build_config(args: argparse.Namespace) -> Config:
    if args.config is None:
        return default_config(args.host or "127.0.0.1", 8000 if args.port is None else args.port)
    config = load_config(args.config)
    server = config.server.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port),
                                                                ("workers", args.workers)) if v is not None})
    return config.model_copy(update={"server": server})


def config_failed(exc: ConfigError) -> int:
    """Print every problem, one line each (the file and field first), and give exit status 2."""
    for problem in exc.problems:
        print(f"agui-proxy: config error: {problem}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=(args.log_level or "info").upper(), format="%(levelname)s:     %(name)s: %(message)s")
    try:
        config = build_config(args)
        if args.command == "check":
            from .check import check

            return check(config, config_path=args.config, workers=args.workers or config.server.workers)
    except ConfigError as exc:
        return config_failed(exc)
    try:
        return serve(config, args)
    except KeyboardInterrupt:  # Ctrl-C before the server took over its signals
        return 0


def serve(config: Config, args: argparse.Namespace) -> int:
    from ..quotas.startup import startup_error, startup_warnings
    from ..runs.resumable import startup_warnings as resumable_warnings
    from .descriptors import plan_descriptors
    from .serve import run

    workers = args.workers or config.server.workers
    if (problem := startup_error(config)) is not None:
        print(f"agui-proxy: {problem}", file=sys.stderr)
        return 2
    for note in [*startup_warnings(config, workers), *resumable_warnings(config, workers)]:
        print(f"agui-proxy: warning: {note}", file=sys.stderr, flush=True)
    # Before the app is built: its stream gate takes the max_concurrent the descriptors allow (each
    # worker plans again, under the limit raised here).
    config, descriptors = plan_descriptors(config)

    def announce(port: int) -> None:
        """Once the socket is bound (before it listens): what is served, and where."""
        facts = summary(config, version=__version__, config_path=args.config, workers=workers,
                        extra={"descriptors": descriptors, "listening": _url(config.server.host, port)})
        logging.getLogger("agui_proxy.startup").info(render(facts), extra={"fields": facts})
        url = _url(config.server.host, port)
        if args.config is None:
            print(f"agui-proxy: serving the embedded demo (a recorded stream, no API key needed) on {url}\n"
                  f"Try it:\n  curl -N {url}/api/agent -H 'content-type: application/json' -d '{DEMO_BODY}'",
                  flush=True)
        if config.playground:
            print(f"agui-proxy: the playground is at {url}/playground", flush=True)

    try:
        started = run(config, config_path=args.config, workers=workers, log_level=args.log_level, loop=args.loop,
                      http=args.http, announce=announce)
    except ListenError as exc:
        print(f"agui-proxy: {exc}", file=sys.stderr)
        return CANNOT_START
    except ConfigError as exc:  # the environment the workers share (PROMETHEUS_MULTIPROC_DIR), tracing
        return config_failed(exc)
    return 0 if started else CANNOT_START


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
