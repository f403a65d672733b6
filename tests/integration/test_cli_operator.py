"""The CLI as an operator meets it: the version, bad flags, a taken port, Ctrl-C, the start-up
summary, and ``check``, which lists every problem of a config without serving."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import pytest

from agui_proxy import __version__

from ..support.proxy import HOST, run_cli, start_proxy, write_config
from ..support.upstream import ScriptedUpstream

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
EXAMPLE_VARIABLES = ("AGUI_PROXY_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
                     "AZURE_OPENAI_API_KEY")


def test_version(tmp_path: Path) -> None:
    done = run_cli(tmp_path, ["--version"])
    assert done.returncode == 0, done
    assert done.stdout.strip() == f"agui-proxy {__version__}"


@pytest.mark.parametrize(("flags", "words"), [
    (["--port", "99999"], "argument --port: 99999 is not a port (0-65535"),
    (["--port", "-1"], "argument --port: -1 is not a port"),
    (["--port", "http"], "argument --port: 'http' is not a whole number"),
    (["--workers", "1000"], "argument --workers: must be at most 256, not 1000"),
    (["--host", ""], "argument --host: is empty"),
    (["serev"], "argument command: invalid choice: 'serev'"),
])
def test_bad_flags_are_refused_before_anything_starts(tmp_path: Path, flags: list[str], words: str) -> None:
    done = run_cli(tmp_path, flags)
    assert done.returncode == 2, done
    assert words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_taken_port_names_the_address_and_serves_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(tmp_path, ["--port", str(port)])
    assert done.returncode == 3, done
    assert f"agui-proxy: cannot listen on {HOST}:{port}: the address is already in use" in done.stderr
    assert "choose another port with --port" in done.stderr
    # Nothing claims to serve: no curl suggestion, no summary.
    assert "serving" not in done.stdout and "curl" not in done.stdout, done.stdout
    assert "agui_proxy.startup" not in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_exits_cleanly(tmp_path: Path, workers: str) -> None:
    with start_proxy(tmp_path, None, extra_args=["--workers", workers]) as proxy:
        proxy.process.send_signal(signal.SIGINT)
        assert proxy.process.wait(20) == 0, proxy.output()
    assert "Traceback" not in proxy.output(), proxy.output()
    assert "KeyboardInterrupt" not in proxy.output()


def test_the_start_up_summary(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    config = {
        "auth": {"bearer_tokens": ["tok-summary-secret"]},
        "cors": {"allow_origins": ["https://app.example.com"]},
        "metrics": {"require_token": True},
        "probes": {"liveness_path": "/live"},
        "upstreams": {
            "main": {"provider": "openai-chat", "base_url": upstream.url, "model": "gpt-4o",
                     "api_key": "sk-summary-secret"},
            "spare": {"provider": "anthropic", "base_url": upstream.url, "model": "claude-x",
                      "api_key": "sk-spare-summary-secret"},
        },
        "routes": [{"path": "/api/agent", "upstream": "main", "fallbacks": ["spare"]}],
    }
    with start_proxy(tmp_path, config) as proxy:
        output = proxy.output()
    path = tmp_path / "agui-proxy.yaml"
    # Each fact's line, its value aligned after the longest name (two spaces at least): read as
    # "name  value", whatever the alignment.
    lines = [re.sub(r"  +", "  ", line.strip()) for line in output.splitlines()]
    assert f"INFO agui_proxy.startup: agui-proxy {__version__}" in output
    for expected in [f"config  {path}",
                     "routes  POST /api/agent -> main (openai-chat, gpt-4o); "
                     "fallbacks: spare (anthropic, claude-x)",
                     "auth  auth.bearer_tokens (1 token)",
                     "cors  https://app.example.com",
                     "probes  /live, /readyz",
                     "metrics  /metrics (bearer token required)",
                     "tracing  off",
                     "workers  1",
                     "store  this process's memory (quotas per process)",
                     f"listening  http://{HOST}:{proxy.port}"]:
        assert expected in lines, (expected, output)
    assert "secret" not in output


def test_check_lists_every_problem_of_the_example_at_once(tmp_path: Path) -> None:
    done = run_cli(tmp_path, ["check", "--config", str(REPO / "config.example.yaml")], drop_env=EXAMPLE_VARIABLES)
    assert done.returncode == 2, done
    errors = [line for line in done.stderr.splitlines() if line.startswith("agui-proxy: config error: ")]
    assert len(errors) == 6, done.stderr
    for variable in EXAMPLE_VARIABLES:
        assert f"environment variable {variable} is not set" in done.stderr
    assert done.stdout == ""


def test_check_of_a_valid_config_prints_the_summary_and_serves_nothing(tmp_path: Path) -> None:
    env = dict.fromkeys(EXAMPLE_VARIABLES, "a-long-enough-secret-1234")
    done = run_cli(tmp_path, ["--check", "--config", str(REPO / "config.example.yaml"), "--port", "1"], env=env)
    assert done.returncode == 0, done
    assert done.stdout.startswith(f"agui-proxy: {REPO / 'config.example.yaml'} is valid\nagui-proxy {__version__}\n")
    assert "POST /api/claude -> claude (anthropic, claude-sonnet-4-5)" in done.stdout


def test_check_reports_a_misspelt_key_and_a_missing_recording(tmp_path: Path) -> None:
    path = write_config(tmp_path, {
        "upstreams": {"demo": {"provider": "replay", "file": "missing.sse"}},
        "rotues": [{"path": "/api/agent", "upstream": "demo"}],
    })
    done = run_cli(tmp_path, ["check", "--config", str(path)])
    assert done.returncode == 2
    assert done.stderr.strip() == f"agui-proxy: config error: {path}: rotues: unknown option (did you mean routes?)"
    # Once the file is right, what only building the proxy finds: the recording is not there.
    path.write_text(path.read_text().replace("rotues", "routes"))
    done = run_cli(tmp_path, ["check", "--config", str(path)])
    assert done.returncode == 2
    assert f"{path}: upstreams.demo.file: the recording {tmp_path / 'missing.sse'} cannot be read" in done.stderr


def test_an_empty_key_is_refused_at_start(tmp_path: Path) -> None:
    path = write_config(tmp_path, {
        "upstreams": {"main": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9/v1", "model": "m",
                               "api_key": "${OPENAI_API_KEY}"}},
        "routes": [{"path": "/api/agent", "upstream": "main"}],
    })
    done = run_cli(tmp_path, ["--config", str(path), "--port", "0"], env={"OPENAI_API_KEY": ""})
    assert done.returncode == 2, done
    assert f"{path}: upstreams.main.api_key: is empty (is its environment variable set to an empty string?)" \
        in done.stderr
