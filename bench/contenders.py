"""The contenders: how each is started as its own server process, and what its clients send.

=====================  ==============================================  =====================
name                   what                                            client sends / gets
=====================  ==============================================  =====================
agui-proxy             the real CLI, a config pointing at the upstream BranderUX / AG-UI
starlette-passthrough  Starlette + httpx + uvicorn relaying the bytes  Chat Completions
raw-relay              uvloop Protocols on both sides (Python floor)   Chat Completions
nginx                  nginx, ``proxy_buffering off``, one worker      Chat Completions
docs-server            BranderUX docs' FastAPI + OpenAI SDK server     BranderUX / AG-UI
litellm                LiteLLM's proxy, in ``bench/.venv-litellm``     Chat Completions
portkey                Portkey's AI gateway (Node), in bench/.portkey  Chat Completions
upstream               the fake upstream itself (the TTFT baseline)    Chat Completions
=====================  ==============================================  =====================

Every Python server runs from this interpreter's environment with uvicorn's defaults for loop and
HTTP parser, so the stack is the same for all (LiteLLM brings its own environment; its installer
adds uvloop and httptools there too).  ``agui-proxy-asyncio`` is agui-proxy forced onto asyncio's
loop and h11, to measure what uvloop and httptools bring; ``agui-proxy-httpx`` is agui-proxy on
httpx's stock transport (``upstream_transport: httpx``) instead of the lean one.  The Starlette
passthrough was called "the floor" until issue 18 measured the two real ones: the raw relay (no
Python server can do less per token) and nginx.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from .load import Target
from .procs import ServerProcess, free_port
from .servers import nginx
from .streams import request_body_branderux, request_body_openai

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LITELLM_VENV = Path(os.environ.get("BENCH_LITELLM_VENV", BENCH / ".venv-litellm"))
LITELLM_INSTALL = "bench/install-litellm.sh"
PORTKEY_DIR = Path(os.environ.get("BENCH_PORTKEY_DIR", BENCH / ".portkey"))
PORTKEY_INSTALL = "bench/install-portkey.sh"
PORTKEY_SERVER = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
# The two contenders that check inbound auth as deployed (agui-proxy's bearer tokens, LiteLLM's
# master key) get this token; the passthrough and the docs server have no auth to check.
CLIENT_TOKEN = "sk-bench-client-token"


# agui-proxy's streams.max_concurrent in the bench: above the most streams any phase opens.
BENCH_STREAM_CAP = 100_000


def _has_stream_cap(source: Path) -> bool:
    """Whether this copy of agui-proxy knows ``streams.max_concurrent`` (a --baseline before the
    cap existed rejects the unknown block, and has no cap to lift)."""
    package = source / "agui_proxy"
    # The configuration was one module, then a folder (agui_proxy/config/).
    files = [package / "config.py", *sorted((package / "config").glob("*.py"))]
    return any(f.exists() and "max_concurrent" in f.read_text(encoding="utf-8") for f in files)


class Unavailable(Exception):
    """A contender that cannot run here; the message says why and how to get it."""


@dataclass(frozen=True)
class Contender:
    name: str
    label: str
    start: Callable[[Path, int], tuple[ServerProcess, Target]]  # (run folder, upstream port)
    startup_timeout: float = 30.0


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LITELLM_", "AGUI_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def _agui_proxy(extra_args: tuple[str, ...] = (), *, name: str = "", source: Path | None = None,
                transport: str | None = None) -> Callable[[Path, int], tuple[ServerProcess, Target]]:
    """The real CLI; ``source`` runs another copy of the package (a baseline) instead of this one."""
    def start(run_dir: Path, upstream_port: int) -> tuple[ServerProcess, Target]:
        port = free_port()
        config = {
            "server": {"host": "127.0.0.1", "port": port},
            "upstreams": {"bench": {"provider": "openai-chat", "base_url": f"http://127.0.0.1:{upstream_port}/v1",
                                    "api_key": "sk-bench-not-a-key", "model": "gpt-4o"}},
            "routes": [{"path": "/api/agent", "upstream": "bench"}],
            "auth": {"bearer_tokens": [CLIENT_TOKEN]},
        }
        if _has_stream_cap(source or REPO):
            # The product refuses streams past streams.max_concurrent (1,000 by default) with a 503:
            # the bench measures how many one process can hold, so the cap is set past every level.
            config["streams"] = {"max_concurrent": BENCH_STREAM_CAP}
        if transport is not None:
            config["upstream_transport"] = transport
        path = run_dir / f"agui-proxy{port}.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        label = name or "agui-proxy" + ("-" + "-".join(a.lstrip("-") for a in extra_args) if extra_args else "")
        env = _env(PYTHONPATH=str(source)) if source else _env()
        proc = ServerProcess(label, [sys.executable, "-m", "agui_proxy", "--config", str(path), *extra_args],
                             env, run_dir, cwd=source)
        return proc, Target(label, port, "/api/agent", "agui", request_body_branderux, CLIENT_TOKEN)
    return start


def _uvicorn_app(name: str, app: str, path: str, kind: str,
                 **env: str) -> Callable[[Path, int], tuple[ServerProcess, Target]]:
    def start(run_dir: Path, upstream_port: int) -> tuple[ServerProcess, Target]:
        port = free_port()
        upstream = f"http://127.0.0.1:{upstream_port}"
        values = {k: v.format(upstream=upstream) for k, v in env.items()}
        proc = ServerProcess(name,
                             [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)],
                             _env(**values), run_dir)
        body = request_body_branderux if kind == "agui" else request_body_openai
        return proc, Target(proc.name, port, path, kind, body)
    return start


def _raw_relay(run_dir: Path, upstream_port: int) -> tuple[ServerProcess, Target]:
    port = free_port()
    proc = ServerProcess("raw-relay", [sys.executable, "-m", "bench.servers.raw_relay", "--port", str(port),
                                       "--upstream", f"127.0.0.1:{upstream_port}"], _env(), run_dir)
    return proc, Target("raw-relay", port, "/v1/chat/completions", "openai", request_body_openai)


def _nginx(run_dir: Path, upstream_port: int) -> tuple[ServerProcess, Target]:
    if nginx.NGINX is None:
        raise Unavailable("nginx is not installed (Debian: apt-get install nginx-light)")
    port = free_port()
    command, _ = nginx.write_config(port, upstream_port, run_dir)
    proc = ServerProcess("nginx", command, _env(), run_dir)
    return proc, Target("nginx", port, "/v1/chat/completions", "openai", request_body_openai)


def _litellm(run_dir: Path, upstream_port: int) -> tuple[ServerProcess, Target]:
    cli = LITELLM_VENV / "bin" / "litellm"
    if not cli.exists():
        raise Unavailable(f"LiteLLM is not installed at {LITELLM_VENV} (run {LITELLM_INSTALL})")
    port = free_port()
    config = {
        "model_list": [{"model_name": "gpt-4o",
                        "litellm_params": {"model": "openai/gpt-4o", "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                                           "api_key": "sk-bench-not-a-key"}}],
        "litellm_settings": {"telemetry": False},
        "general_settings": {"master_key": CLIENT_TOKEN},
    }
    path = run_dir / "litellm.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = _env(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False", LITELLM_LOG="ERROR")
    env.pop("PYTHONPATH")
    proc = ServerProcess("litellm", [str(cli), "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
                         env, run_dir)
    return proc, Target("litellm", port, "/v1/chat/completions", "openai", request_body_openai, CLIENT_TOKEN)


def _portkey(run_dir: Path, upstream_port: int) -> tuple[ServerProcess, Target]:
    """Portkey's gateway routes by headers: the provider's API shape, the upstream's base URL (a
    "custom host", which it allows on loopback) and the upstream's key as the bearer token."""
    node = shutil.which("node")
    if node is None:
        raise Unavailable("Node.js is not installed (Debian: apt-get install nodejs npm)")
    if not PORTKEY_SERVER.exists():
        raise Unavailable(f"Portkey's gateway is not installed at {PORTKEY_DIR} (run {PORTKEY_INSTALL})")
    port = free_port()
    # Its start-server listens on every interface; the preloaded shim keeps it on 127.0.0.1.
    command = [node, "--require", str(BENCH / "servers" / "loopback.cjs"), str(PORTKEY_SERVER), f"--port={port}",
               "--headless"]
    env = _env(NODE_ENV="production")
    env.pop("PYTHONPATH")
    proc = ServerProcess("portkey", command, env, run_dir)
    headers = (("x-portkey-provider", "openai"), ("x-portkey-custom-host", f"http://127.0.0.1:{upstream_port}/v1"))
    return proc, Target("portkey", port, "/v1/chat/completions", "openai", request_body_openai,
                        "sk-bench-not-a-key", headers)


CONTENDERS: dict[str, Contender] = {c.name: c for c in (
    Contender("agui-proxy", "agui-proxy", _agui_proxy()),
    Contender("agui-proxy-httpx", "agui-proxy on httpx's stock transport", _agui_proxy(name="agui-proxy-httpx",
                                                                                      transport="httpx")),
    Contender("starlette-passthrough", "Starlette + httpx passthrough",
              _uvicorn_app("starlette-passthrough", "bench.servers.starlette_passthrough:app", "/v1/chat/completions",
                           "openai", BENCH_UPSTREAM="{upstream}")),
    Contender("raw-relay", "raw uvloop relay (Python floor)", _raw_relay),
    Contender("nginx", "nginx, proxy_buffering off", _nginx),
    Contender("docs-server", "BranderUX docs server",
              _uvicorn_app("docs-server", "bench.servers.docs_server:app", "/api/agent", "agui",
                           OPENAI_BASE_URL="{upstream}/v1", OPENAI_API_KEY="sk-bench-not-a-key")),
    Contender("litellm", "LiteLLM proxy", _litellm, startup_timeout=120.0),
    Contender("portkey", "Portkey gateway (Node)", _portkey, startup_timeout=60.0),
    Contender("agui-proxy-asyncio", "agui-proxy on asyncio + h11",
              _agui_proxy(("--loop", "asyncio", "--http", "h11"))),
)}

DEFAULT = ("agui-proxy", "agui-proxy-httpx", "agui-proxy-asyncio", "starlette-passthrough", "raw-relay", "nginx",
           "docs-server", "litellm", "portkey")


def package_at(revision: str, into: Path) -> Path:
    """The package ``agui_proxy`` as of git ``revision``, extracted under ``into/baseline``: a
    directory to put first on ``PYTHONPATH``."""
    source = into / "baseline"
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "agui_proxy"], capture_output=True,
                             check=False)
    if archive.returncode != 0:
        raise Unavailable(f"git archive {revision} failed: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    return source


def baseline_contender(revision: str, run_dir: Path) -> Contender:
    """agui-proxy as of another git revision (``--baseline``): before/after an optimisation, same run."""
    source = package_at(revision, run_dir)
    return Contender("agui-proxy-baseline", f"agui-proxy at {revision[:10]}",
                     _agui_proxy(name="agui-proxy-baseline", source=source))
