"""``GET <route>/capabilities``: the AG-UI ``AgentCapabilities`` of a route, in the shape of the
``ag-ui-protocol`` package's model (``@ag-ui/core`` 1.0 has the type, no schema to check against)."""

from __future__ import annotations

from typing import Any

import pytest
from ag_ui.core import AgentCapabilities
from pydantic import BaseModel

from agui_proxy.config import Config
from agui_proxy.runs.capabilities import route_capabilities


def config(provider: str, **route: Any) -> Config:
    upstream: dict[str, Any] = {"provider": provider}
    if provider != "replay":
        upstream.update(base_url="http://127.0.0.1:9/v1", api_key="k", model="m")
    return Config.model_validate({"upstreams": {"u": upstream}, "routes": [{"path": "/a", "upstream": "u", **route}]})


def no_extras(model: BaseModel) -> list[str]:
    """Fields the model did not know (it keeps them as extras rather than refusing them)."""
    found = [f"{type(model).__name__}.{name}" for name in (model.model_extra or {})]
    for value in model.__dict__.values():
        if isinstance(value, BaseModel):
            found += no_extras(value)
    return found


@pytest.mark.parametrize("provider", ["openai-chat", "openai-responses", "anthropic", "gemini", "replay"])
@pytest.mark.parametrize("resumable", [None, {"linger": 60}])
def test_every_route_answers_the_official_shape(provider: str, resumable: dict[str, Any] | None) -> None:
    cfg = config(provider, resumable=resumable)
    body = route_capabilities(cfg, cfg.routes[0])
    model = AgentCapabilities.model_validate(body)
    assert no_extras(model) == [], "every key is one the protocol names, camelCase"
    assert model.model_dump(by_alias=True, exclude_none=True) == body, "no null, nothing lost"
    assert model.transport is not None and model.transport.streaming is True
    assert model.transport.resumable is (resumable is not None)
    assert model.tools is not None and model.tools.client_provided and model.tools.parallel_calls


def test_reasoning_and_modalities_follow_the_config() -> None:
    cfg = config("gemini", reasoning=False)
    body = route_capabilities(cfg, cfg.routes[0])
    assert body["reasoning"] == {"supported": False, "streaming": False}
    assert body["multimodal"]["input"] == {"image": True, "audio": True, "video": True, "pdf": True}
    replay = config("replay")
    assert "multimodal" not in route_capabilities(replay, replay.routes[0])
