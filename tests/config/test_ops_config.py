"""The operations sections of the config: defaults, and errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agui_proxy.config import config_from_dict, load_config
from agui_proxy.errors import ConfigError

from ..support.configs import replay_config

REPO = Path(__file__).resolve().parents[2]


def config(**sections: Any) -> Any:
    return config_from_dict(replay_config(**sections), source="agui.yaml", env={})


def test_defaults_allow_nothing_cross_origin_and_log_no_content() -> None:
    c = config()
    assert c.cors.allow_origins == []
    assert c.logging.debug_content is False
    assert (c.logging.format, c.logging.level, c.logging.access_log) == ("plain", "info", True)
    assert (c.metrics.enabled, c.metrics.path, c.metrics.require_token) == (True, "/metrics", False)
    assert (c.probes.liveness_path, c.probes.readiness_path) == ("/healthz", "/readyz")
    assert c.server.workers == 1


@pytest.mark.parametrize(("sections", "message"), [
    ({"routes": [{"path": "/healthz", "upstream": "demo"}]},
     "agui.yaml: routes[0].path: '/healthz' is also probes.liveness_path"),
    ({"routes": [{"path": "/metrics", "upstream": "demo"}]}, "routes[0].path: '/metrics' is also metrics.path"),
    ({"metrics": {"path": "/readyz"}}, "metrics.path: '/readyz' is also probes.readiness_path"),
    ({"probes": {"readiness_path": "/healthz"}}, "probes.readiness_path: '/healthz' is also probes.liveness_path"),
    ({"metrics": {"require_token": True}}, "metrics.require_token: true needs auth.bearer_tokens"),
    ({"metrics": {"path": "metrics"}}, "agui.yaml: metrics.path: a path starts with '/'"),
    ({"logging": {"format": "xml"}}, "agui.yaml: logging.format: Input should be 'plain' or 'json'"),
    ({"logging": {"debug": True}}, "agui.yaml: logging.debug: unknown option"),
    ({"cors": {"allow_origins": ["https://app.example.com/"]}}, "cors.allow_origins: origin 0"),
    ({"cors": {"allow_headers": ["bad header"]}}, "cors.allow_headers: header 0 ('bad header') is not a header name"),
    ({"cors": {"allow_origins": ["*"], "allow_headers": ["*"], "allow_credentials": True}},
     "'*' in allow_headers or expose_headers does not work with allow_credentials"),
    ({"server": {"workers": 0}}, "server.workers: Input should be greater than or equal to 1"),
])
def test_errors_name_the_field(sections: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(**sections)
    assert message in str(caught.value)


def test_a_route_may_use_a_probe_path_when_probes_are_off() -> None:
    c = config(probes={"enabled": False}, routes=[{"path": "/healthz", "upstream": "demo"}])
    assert c.routes[0].path == "/healthz"


def test_the_example_config_documents_every_operations_option() -> None:
    """config.example.yaml loads, and lists each option of each new section."""
    example = load_config(REPO / "config.example.yaml",
                          env={"AGUI_PROXY_TOKEN": "client-token-1", "OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "k",
                               "GEMINI_API_KEY": "k", "AZURE_OPENAI_API_KEY": "k"})
    text = yaml.safe_load((REPO / "config.example.yaml").read_text())
    for section in ("probes", "metrics", "logging", "cors"):
        model = getattr(example, section)
        assert set(text[section]) == set(type(model).model_fields), section
    assert "workers" in text["server"]
