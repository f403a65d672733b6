"""The CLI's event loop and HTTP parser: uvloop and httptools by default, asyncio and h11 on request."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..support.agui_check import assert_valid_run
from ..support.proxy import post, run_cli, start_proxy

pytestmark = pytest.mark.integration

DEMO_BODY = b'{"params":{"messages":[{"role":"user","content":"What is the weather in Paris?"}]}}'


@pytest.mark.parametrize("args", [[], ["--loop", "asyncio", "--http", "h11"]], ids=["defaults", "asyncio-h11"])
def test_the_demo_runs_on_either(tmp_path: Path, args: list[str]) -> None:
    with start_proxy(tmp_path, None, extra_args=["--log-level", "debug", *args]) as proxy:
        reply = post(f"{proxy.url}/api/agent", DEMO_BODY)
        output = proxy.output()
    assert reply.status == 200
    events, done = reply.frames
    assert done
    assert_valid_run(events)
    assert "Traceback" not in output


def test_the_defaults_are_uvloop_and_httptools() -> None:
    from agui_proxy.serving.cli import parse_args

    args = parse_args([])
    assert (args.loop, args.http) == ("uvloop", "httptools")


def test_an_unknown_loop_is_refused(tmp_path: Path) -> None:
    done = run_cli(tmp_path, ["--loop", "trio"])
    assert done.returncode == 2
    assert "--loop" in done.stderr and "trio" in done.stderr
