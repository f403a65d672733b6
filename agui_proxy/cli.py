"""``agui-proxy``: serve the configured routes with uvicorn.

With no ``--config`` it serves the embedded default: ``POST /api/agent`` answered by a recorded
provider stream replayed through the same decoder and translator as a real upstream, so the
proxy can be tried with no API key.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .config import Config, default_config, load_config
from .errors import ConfigError

DEMO_BODY = '{"params":{"messages":[{"role":"user","content":"What is the weather in Paris?"}]}}'


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agui-proxy", description="Stream LLM providers to AG-UI frontends.")
    parser.add_argument("--config", metavar="PATH", help="YAML config file (default: the embedded demo)")
    parser.add_argument("--host", help="address to listen on (overrides server.host)")
    parser.add_argument("--port", type=int, help="port to listen on (overrides server.port)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    if args.config is None:
        return default_config(args.host or "127.0.0.1", 8000 if args.port is None else args.port)
    config = load_config(args.config)
    server = config.server.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port))
                                              if v is not None})
    return config.model_copy(update={"server": server})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"agui-proxy: config error: {exc}", file=sys.stderr)
        return 2

    from .server.app import create_app
    from .server.lifecycle import serve

    app = create_app(config)
    host, port = config.server.host, config.server.port
    url_host = f"[{host}]" if ":" in host else host
    if args.config is None:
        print(f"agui-proxy: serving the embedded demo (a recorded stream, no API key needed) on "
              f"http://{url_host}:{port}\nTry it:\n  curl -N http://{url_host}:{port}/api/agent "
              f"-H 'content-type: application/json' -d '{DEMO_BODY}'", flush=True)
    # Our own uvicorn.Server: SIGTERM drains the streams (README "Reliability").
    return 0 if serve(app, host, port, args.log_level) else 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
