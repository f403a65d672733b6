"""The route's ``citations`` option: auto by default, true or false, anything else refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from agui_proxy.config import config_from_dict
from agui_proxy.errors import ConfigError


def config(**route: Any) -> dict[str, Any]:
    return {"upstreams": {"u": {"provider": "anthropic", "base_url": "http://127.0.0.1:9/v1", "api_key": "k",
                                "model": "m"}},
            "routes": [{"path": "/api/agent", "upstream": "u", **route}]}


@pytest.mark.parametrize(("given", "read"), [({}, "auto"), ({"citations": True}, True),
                                             ({"citations": False}, False), ({"citations": "auto"}, "auto")])
def test_the_citations_option(given: dict[str, Any], read: Any) -> None:
    assert config_from_dict(config(**given), env={}).routes[0].citations == read


def test_a_bad_value_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(config(citations="sometimes"), env={})
    assert "routes[0].citations" in str(caught.value)
