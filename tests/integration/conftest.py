"""Fixtures of the integration tests beside the shared ones (tests/conftest.py): a proxy with defaults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..support.openai_chat_streams import MODEL
from ..support.proxy import ProxyProcess, start_proxy
from ..support.upstream import ScriptedUpstream


@pytest.fixture(scope="module")
def plain_proxy(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    """The proxy with one Chat Completions upstream (the module's) at ``/api/agent``, defaults otherwise."""
    config = {
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "sk-test",
                                 "model": MODEL}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }
    with start_proxy(tmp_path_factory.mktemp("proxy"), config) as running:
        yield running
