"""The YAML config: the documented shape works as written; every error names file, field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from agui_proxy.config import config_from_dict, load_config
from agui_proxy.core.inbound import read_request
from agui_proxy.errors import ConfigError
from agui_proxy.providers import Recording, build_provider

TOKEN = "client-token-1"
REPO = Path(__file__).resolve().parents[2]

ISSUE_SHAPE = """\
server: {host: 127.0.0.1, port: 8000}
auth:
  bearer_tokens: ["${AGUI_PROXY_TOKEN}"]
upstreams:
  openai:
    provider: openai-chat
    base_url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
    model: gpt-4o
    headers: {}
routes:
  - path: /api/agent
    upstream: openai
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agui.yaml"
    path.write_text(text)
    return path


def test_documented_shape_with_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ISSUE_SHAPE), env={"AGUI_PROXY_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-x"})
    assert config.auth.tokens == [TOKEN]
    assert config.upstreams["openai"].api_key == "sk-x"
    assert config.routes[0].path == "/api/agent" and config.routes[0].done == "auto"
    assert config.limits.max_body_bytes == 10 * 1024 * 1024
    assert "sk-x" not in repr(config.upstreams["openai"])


def test_example_config_is_valid(tmp_path: Path) -> None:
    env = {"AGUI_PROXY_TOKEN": TOKEN, "OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "GEMINI_API_KEY": "k",
           "AZURE_OPENAI_API_KEY": "k"}
    config = load_config(REPO / "config.example.yaml", env=env)
    assert config.routes


def test_defaults_and_missing_variables(tmp_path: Path) -> None:
    text = ISSUE_SHAPE.replace("${OPENAI_API_KEY}", "${OPENAI_API_KEY:-fallback}")
    config = load_config(write(tmp_path, text), env={"AGUI_PROXY_TOKEN": TOKEN})
    assert config.upstreams["openai"].api_key == "fallback"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, ISSUE_SHAPE), env={"AGUI_PROXY_TOKEN": TOKEN})
    message = str(caught.value)
    assert "agui.yaml" in message and "upstreams.openai.api_key" in message and "OPENAI_API_KEY" in message


@pytest.mark.parametrize(("change", "field", "words"), [
    (("provider: openai-chat", "provider: openai-chatt"), "upstreams.openai.provider", "unknown provider"),
    (("upstream: openai", "upstream: nowhere"), "routes[0].upstream", "no upstream named 'nowhere'"),
    (("base_url: https://api.openai.com/v1", "base_url: ftp://x"), "upstreams.openai", "http"),
    (("path: /api/agent", "path: api/agent"), "routes[0].path", "starts with '/'"),
    (("port: 8000", "port: 99999"), "server.port", "less than or equal"),
    (("headers: {}", "headers: {}\n    colour: blue"), "upstreams.openai.colour", "unknown option"),
    (("model: gpt-4o", "model: ''"), "upstreams.openai", "model is required"),
])
def test_errors_name_the_field(tmp_path: Path, change: tuple[str, str], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, ISSUE_SHAPE.replace(*change)),
                    env={"AGUI_PROXY_TOKEN": TOKEN, "OPENAI_API_KEY": "k"})
    message = str(caught.value)
    assert "agui.yaml" in message and field in message and words in message, message


@pytest.mark.parametrize(("upstream", "field", "words"), [
    ({"provider": "replay", "base_url": "http://x"}, "upstreams.u.base_url", "unknown option"),
    ({"provider": "gemini", "base_url": "http://x", "model": "m", "max_tokens_param": "max_tokens"},
     "upstreams.u.max_tokens_param", "unknown option"),
    ({"provider": "anthropic", "model": "m"}, "upstreams.u.base_url", "is required"),
    ({"model": "m"}, "upstreams.u.provider", "is required"),
    ({"provider": "replay", "format": "cohere"}, "upstreams.u.format", "unknown recording format"),
])
def test_each_kind_of_upstream_takes_its_own_options(upstream: dict[str, object], field: str, words: str) -> None:
    config = {"upstreams": {"u": upstream}, "routes": [{"path": "/a", "upstream": "u"}]}
    with pytest.raises(ConfigError) as caught:
        config_from_dict(config, source="agui.yaml", env={})
    message = str(caught.value)
    assert message.startswith("agui.yaml: ") and field in message and words in message, message


def test_a_replay_file_is_read_from_beside_the_config(tmp_path: Path) -> None:
    text = "upstreams:\n  demo: {provider: replay, file: streams/one.sse}\nroutes:\n  - {path: /a, upstream: demo}\n"
    config = load_config(write(tmp_path, text), env={})
    hello = read_request(b'{"params": {"messages": [{"role": "user", "content": "Hi"}]}}').conversation
    recording = build_provider(config.upstreams["demo"]).build_request(hello)
    assert recording == Recording(tmp_path / "streams" / "one.sse", 64, 0.02)


def test_empty_token_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"auth.bearer_tokens.*empty"):
        load_config(write(tmp_path, ISSUE_SHAPE), env={"AGUI_PROXY_TOKEN": "", "OPENAI_API_KEY": "k"})
    with pytest.raises(ConfigError, match=r"agui.yaml: not valid YAML at line 3"):
        load_config(write(tmp_path, "routes:\n  - [\n"), env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_resumable_routes_and_runs(tmp_path: Path) -> None:
    text = """
upstreams: {demo: {provider: replay}}
routes:
  - {path: /a, upstream: demo, resumable: {linger: 5}}
  - {path: /b, upstream: demo}
runs: {max_kept: 7}
"""
    config = load_config(write(tmp_path, text))
    first, second = config.routes
    assert first.resumable is not None and first.resumable.linger == 5 and first.resumable.keep == 300
    assert second.resumable is None, "off by default"
    assert config.runs.max_kept == 7
    with pytest.raises(ConfigError, match=r"routes\[0\]\.resumable\.max_frames"):
        load_config(write(tmp_path, text.replace("linger: 5", "max_frames: 1")))
    with pytest.raises(ConfigError, match=r"routes\[0\]\.resumable\.lingr"):
        load_config(write(tmp_path, text.replace("linger: 5", "lingr: 5")))
