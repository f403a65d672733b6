"""The CLI: the embedded default with no config, and config errors that name the file and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ..support.agui_check import assert_valid_run, text_of, tool_calls_of
from ..support.proxy import post, run_cli, sse_events, sse_run_error, start_proxy, write_config

pytestmark = pytest.mark.integration


def test_embedded_default(tmp_path: Path) -> None:
    with start_proxy(tmp_path, None) as proxy:
        stdout = proxy.stdout
        # The printed curl command: its URL and body are what the demo answers.
        match = re.search(r"curl -N (http://\S+) -H 'content-type: application/json' -d '([^']+)'", stdout)
        assert match, stdout
        assert match.group(1) == f"{proxy.url}/api/agent"
        reply = post(match.group(1), match.group(2).encode())
        output = proxy.output()

    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "text/event-stream"
    events, done = reply.frames
    assert done
    assert_valid_run(events)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["RUN_STARTED", "TEXT_MESSAGE_START"]
    assert kinds.index("TEXT_MESSAGE_END") < kinds.index("TOOL_CALL_START")
    assert kinds[-1] == "RUN_FINISHED"
    assert text_of(events) == "I'll check the current weather in Paris for you."
    ((_, name, arguments),) = tool_calls_of(events)
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris", "unit": "celsius"}
    assert "Traceback" not in output


def test_a_replay_of_a_recording_beside_the_config_and_of_one_that_is_missing(tmp_path: Path) -> None:
    (tmp_path / "streams").mkdir()
    (tmp_path / "streams" / "hello.sse").write_bytes(
        b'data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    config = {"upstreams": {"here": {"provider": "replay", "file": "streams/hello.sse", "interval": 0},
                            "gone": {"provider": "replay", "file": "streams/absent.sse"}},
              "routes": [{"path": "/api/here", "upstream": "here"}, {"path": "/api/gone", "upstream": "gone"}]}
    body = {"params": {"messages": [{"role": "user", "content": "Hi"}]}}
    with start_proxy(tmp_path, config) as proxy:
        here, gone = post(f"{proxy.url}/api/here", body), post(f"{proxy.url}/api/gone", body)
    assert text_of(sse_events(here)) == "Hello"
    sse_run_error(gone, "upstream_unavailable", "the recording cannot be read")


def config_error(tmp_path: Path, config: str, *, drop_env: tuple[str, ...] = ()) -> str:
    """Run the CLI with ``config``; it must exit non-zero at once; its stderr."""
    path = write_config(tmp_path, config)
    result = run_cli(tmp_path, ["--config", str(path), "--port", "9"], drop_env=drop_env, timeout=20)
    assert result.returncode != 0, result
    assert str(path) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


UPSTREAM = """\
upstreams:
  openai:
    provider: openai-chat
    base_url: http://127.0.0.1:9/v1
    model: gpt-4o-mini
    api_key: {api_key}
routes:
  - path: /api/agent
    upstream: {route_upstream}
"""


def test_config_with_an_unset_variable(tmp_path: Path) -> None:
    stderr = config_error(tmp_path, UPSTREAM.format(api_key="${MISSING_VAR}", route_upstream="openai"),
                          drop_env=("MISSING_VAR",))
    assert "upstreams.openai.api_key" in stderr
    assert "MISSING_VAR" in stderr


def test_config_with_an_unknown_provider(tmp_path: Path) -> None:
    config = UPSTREAM.format(api_key="sk-x", route_upstream="openai").replace("openai-chat", "openia-chat")
    stderr = config_error(tmp_path, config)
    assert "upstreams.openai.provider" in stderr
    assert "openia-chat" in stderr


def test_config_with_a_route_to_a_missing_upstream(tmp_path: Path) -> None:
    stderr = config_error(tmp_path, UPSTREAM.format(api_key="sk-x", route_upstream="anthropic"))
    assert "routes[0].upstream" in stderr
    assert "anthropic" in stderr
