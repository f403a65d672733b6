"""The tracing: section: when it is on, and its errors (each naming its field)."""

from __future__ import annotations

import pytest

from agui_proxy.config import TracingConfig, config_from_dict
from agui_proxy.errors import ConfigError

from ..support.configs import replay_config

BASE = replay_config()


@pytest.mark.parametrize(("enabled", "env", "on"), [
    (None, {}, False),
    (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    (None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    (None, {"OTEL_TRACES_EXPORTER": "otlp"}, True),
    (None, {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    (None, {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    (False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    (True, {}, True),
])
def test_on_by_the_config_or_the_standard_variables(enabled: bool | None, env: dict[str, str], on: bool) -> None:
    assert TracingConfig(enabled=enabled).is_on(env) is on


def test_every_tracing_problem_names_its_field() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict({**BASE, "tracing": {"endpoint": "collector:4318", "sample_ratio": 2,
                                              "propagate_too": ["demo"]}}, source="agui.yaml", env={})
    assert [str(p) for p in caught.value.problems] == [
        "agui.yaml: tracing.endpoint: endpoint must be an http:// or https:// URL, not 'collector:4318'",
        "agui.yaml: tracing.sample_ratio: Input should be less than or equal to 1",
        "agui.yaml: tracing.propagate_too: unknown option (did you mean propagate_to?)"]


def test_propagate_to_names_configured_upstreams() -> None:
    with pytest.raises(ConfigError, match=r"tracing.propagate_to\[0\]: no upstream named 'openai'"):
        config_from_dict({**BASE, "tracing": {"propagate_to": ["openai"]}}, env={})


def test_the_collector_headers_are_secrets() -> None:
    config = config_from_dict({**BASE, "tracing": {"headers": {"authorization": "Bearer collector-key-1"}}}, env={})
    assert config.tracing.secrets() == ["Bearer collector-key-1"]
    assert "collector-key-1" not in repr(config.tracing)
