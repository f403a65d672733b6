"""``GET <route path>/capabilities``: the AG-UI ``AgentCapabilities`` object of one route.

The shape is ``@ag-ui/core`` 1.0's (``AgentCapabilities``: ``identity``, ``transport``, ``tools``,
``reasoning``, ``multimodal``...; camelCase keys, absent rather than null), checked in
``tests/runs/test_capabilities.py`` against the ``ag-ui-protocol`` package's model.  What it
says follows the config: ``transport.resumable`` is the route's ``resumable:``, reasoning its
``reasoning:`` (for an AG-UI client), the input modalities those the route's first upstream's
provider takes (the request builders of ``providers/``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.types import Receive, Scope, Send

from ..config import Config, RouteConfig
from ..middleware.json_answers import send_json

# The media parts each provider's request builder converts (the others are refused with a 422).
_INPUT_MODALITIES: dict[str, dict[str, bool]] = {
    "openai-chat": {"image": True},
    "openai-responses": {"image": True},
    "anthropic": {"image": True, "pdf": True},
    "gemini": {"image": True, "audio": True, "video": True, "pdf": True},
}


def _version() -> str:
    try:
        return version("agui-proxy")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0"


def route_capabilities(config: Config, route: RouteConfig) -> dict[str, Any]:
    provider = config.upstreams[route.upstream].provider
    capabilities: dict[str, Any] = {
        "identity": {"name": route.path, "type": "agui-proxy", "version": _version(),
                     "description": f"AG-UI proxy in front of a {provider} upstream"},
        "transport": {"streaming": True, "resumable": route.resumable is not None},
        "tools": {"supported": True, "clientProvided": True, "parallelCalls": True},
        # What an AG-UI client gets (reasoning: auto shows it to them, not to BranderUX bodies).
        "reasoning": {"supported": route.reasoning_for("agui"), "streaming": route.reasoning_for("agui")},
    }
    modalities = _INPUT_MODALITIES.get(provider)
    if modalities:
        capabilities["multimodal"] = {"input": dict(modalities)}
    return capabilities


class Capabilities:
    def __init__(self, config: Config, route: RouteConfig) -> None:
        self.body = route_capabilities(config, route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 200, self.body, [(b"cache-control", b"no-cache")], head=scope["method"] == "HEAD")
