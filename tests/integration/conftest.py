"""Fixtures of the integration tests: a scripted upstream and the real proxy, one of each per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..support.proxy import ProxyProcess, start_proxy
from ..support.upstream import ScriptedUpstream
from .openai_chat_streams import MODEL


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture
def up(upstream: ScriptedUpstream) -> Iterator[ScriptedUpstream]:
    """The module's upstream, with nothing queued or seen from earlier tests.

    After the test, every scripted response must have been used and no request may have come
    unscripted: a proxy that sends too many or too few requests fails here.
    """
    upstream.reset()
    yield upstream
    unscripted = upstream.unscripted
    pending = upstream.pending_scripts
    upstream.reset()
    assert not unscripted, f"the proxy sent requests nobody scripted: {[(r.method, r.target) for r in unscripted]}"
    assert not pending, f"{pending} scripted responses were never requested"


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
