"""``agui-proxy``: serve the configured routes with uvicorn.

With no ``--config`` it serves the embedded default: ``POST /api/agent`` answered by a recorded
provider stream replayed through the same decoder and translator as a real upstream, so the
proxy can be tried with no API key.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Sequence

from .config import Config, default_config, load_config
from .errors import ConfigError

DEMO_BODY = '{"params":{"messages":[{"role":"user","content":"What is the weather in Paris?"}]}}'


def _installed(module: str, fallback: str) -> str:
    return module if importlib.util.find_spec(module) is not None else fallback


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agui-proxy", description="Stream LLM providers to AG-UI frontends.")
    parser.add_argument("--config", metavar="PATH", help="YAML config file (default: the embedded demo)")
    parser.add_argument("--host", help="address to listen on (overrides server.host)")
    parser.add_argument("--port", type=int, help="port to listen on (overrides server.port)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="overrides logging.level (default: info)")
    parser.add_argument("--workers", type=int, help="worker processes (overrides server.workers; default: 1)")
    # uvloop and httptools are dependencies and the defaults: 8-13% less CPU per token in the full
    # run, 19% less per request in the earlier one, and 2,000 streams held at once where asyncio +
    # h11 gave none its first token within 5 s (bench/OPTIMISATIONS.md).  asyncio and h11 stay
    # selectable, and are the fallback where uvloop has no build (Windows).
    parser.add_argument("--loop", default=_installed("uvloop", "asyncio"), choices=["uvloop", "asyncio"],
                        help="event loop (default: %(default)s)")
    parser.add_argument("--http", default=_installed("httptools", "h11"), choices=["httptools", "h11"],
                        help="HTTP/1.1 parser (default: %(default)s)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    if args.config is None:
        return default_config(args.host or "127.0.0.1", 8000 if args.port is None else args.port)
    config = load_config(args.config)
    server = config.server.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port),
                                                                ("workers", args.workers)) if v is not None})
    return config.model_copy(update={"server": server})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=(args.log_level or "info").upper(), format="%(levelname)s:     %(name)s: %(message)s")
    if args.workers is not None and args.workers < 1:
        print(f"agui-proxy: --workers must be at least 1, not {args.workers}", file=sys.stderr)
        return 2
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"agui-proxy: config error: {exc}", file=sys.stderr)
        return 2

    from .quotas.startup import startup_error, startup_warnings
    from .server.resumable import startup_warnings as resumable_warnings
    from .server.serve import run

    host, port = config.server.host, config.server.port
    url_host = f"[{host}]" if ":" in host else host
    if args.config is None:
        print(f"agui-proxy: serving the embedded demo (a recorded stream, no API key needed) on "
              f"http://{url_host}:{port}\nTry it:\n  curl -N http://{url_host}:{port}/api/agent "
              f"-H 'content-type: application/json' -d '{DEMO_BODY}'", flush=True)
    if config.playground:
        print(f"agui-proxy: the playground is at http://{url_host}:{port}/playground", flush=True)
    workers = args.workers or config.server.workers
    if (problem := startup_error(config)) is not None:
        print(f"agui-proxy: {problem}", file=sys.stderr)
        return 2
    for note in [*startup_warnings(config, workers), *resumable_warnings(config, workers)]:
        print(f"agui-proxy: warning: {note}", file=sys.stderr, flush=True)
    try:
        started = run(config, config_path=args.config, workers=workers, log_level=args.log_level, loop=args.loop,
                      http=args.http)
    except ConfigError as exc:  # the environment the workers share (PROMETHEUS_MULTIPROC_DIR)
        print(f"agui-proxy: config error: {exc}", file=sys.stderr)
        return 2
    return 0 if started else 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
