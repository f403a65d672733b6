"""A config's problems are reported all at once, each naming its field; a misspelt key as unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from agui_proxy.config import config_from_dict, load_config
from agui_proxy.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

MINIMAL = {
    "upstreams": {"openai": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9/v1", "model": "m",
                             "api_key": "${OPENAI_API_KEY}"}},
    "routes": [{"path": "/api/agent", "upstream": "openai"}],
}


def problems(data: object, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(data, source="agui.yaml", env=env or {})
    error = caught.value
    for problem in error.problems:
        assert str(problem).startswith("agui.yaml: "), problem
    return [str(p).removeprefix("agui.yaml: ") for p in error.problems]


def test_every_missing_variable_of_the_example_in_one_run() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(REPO / "config.example.yaml", env={})
    fields = {p.field: p.detail for p in caught.value.problems}
    assert set(fields) == {"auth.bearer_tokens[0]", "upstreams.openai.api_key", "upstreams.claude.api_key",
                           "upstreams.gemini.api_key", "upstreams.openai-responses.api_key",
                           "upstreams.azure.headers.api-key"}, fields
    assert "AZURE_OPENAI_API_KEY is not set" in fields["upstreams.azure.headers.api-key"]
    # The combined message lists each one on its own line, under the file's name.
    message = str(caught.value)
    assert message.startswith(f"{REPO / 'config.example.yaml'}: 6 problems:\n")
    assert "\n  upstreams.gemini.api_key: environment variable GEMINI_API_KEY is not set" in message


def test_a_misspelt_top_level_key_is_unknown_not_a_missing_one() -> None:
    data = {"upstreams": MINIMAL["upstreams"], "rotues": MINIMAL["routes"]}
    assert problems(data, {"OPENAI_API_KEY": "k"}) == ["rotues: unknown option (did you mean routes?)"]


def test_a_misspelt_nested_key_names_the_known_one() -> None:
    upstream = {**MINIMAL["upstreams"]["openai"], "modle": "m2"}  # type: ignore[dict-item]
    data = {**MINIMAL, "upstreams": {"openai": upstream}}
    assert problems(data, {"OPENAI_API_KEY": "k"}) == [
        "upstreams.openai.modle: unknown option (did you mean model?)"]


def test_an_unknown_key_with_nothing_close_points_at_the_example() -> None:
    assert problems({**MINIMAL, "telemetry_stuff": 1}, {"OPENAI_API_KEY": "k"}) == [
        "telemetry_stuff: unknown option (see config.example.yaml for the options)"]


def test_missing_variables_then_every_field_error() -> None:
    data = {**MINIMAL, "server": {"port": 99999, "workers": "${WORKERS}"},
            "streams": {"keepalive": -1}}
    found = problems(data)
    assert found[0] == "upstreams.openai.api_key: environment variable OPENAI_API_KEY is not set " \
                       "(and ${OPENAI_API_KEY} has no :-default)"
    # The placeholder that stands for WORKERS adds no "not an integer" of its own.
    assert [p.split(":")[0] for p in found] == ["upstreams.openai.api_key", "server.workers", "server.port",
                                                "streams.keepalive"]
    assert "less than or equal to 65535" in found[2]


@pytest.mark.parametrize("where", ["api_key", "header"])
def test_an_empty_secret_is_refused_like_an_empty_token(where: str) -> None:
    upstream = dict(MINIMAL["upstreams"]["openai"])  # type: ignore[call-overload]
    if where == "header":
        upstream = {**upstream, "api_key": "k", "headers": {"api-key": "${AZURE_KEY}"}}
    data = {**MINIMAL, "upstreams": {"openai": upstream}}
    (found,) = problems(data, {"OPENAI_API_KEY": "", "AZURE_KEY": " "})
    field = "upstreams.openai.api_key" if where == "api_key" else "upstreams.openai.headers"
    assert found.startswith(f"{field}: "), found
    assert "empty (is its environment variable set to an empty string?)" in found
    # The inbound token: the same words.
    (token,) = problems({**MINIMAL, "auth": {"bearer_tokens": [""]}}, {"OPENAI_API_KEY": "k"})
    assert token.startswith("auth.bearer_tokens[0].token: ") and "set to an empty string?" in token


def test_no_key_at_all_is_still_allowed() -> None:
    upstream = {k: v for k, v in MINIMAL["upstreams"]["openai"].items() if k != "api_key"}  # type: ignore[attr-defined]
    config = config_from_dict({**MINIMAL, "upstreams": {"openai": upstream}}, env={})
    assert config.upstreams["openai"].api_key is None
