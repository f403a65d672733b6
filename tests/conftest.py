"""Fixtures every kind of test may use: a scripted upstream and the real proxy, one of each per module.

A module gets its ``proxy`` by defining a ``proxy_setup`` fixture (its config and environment);
``up`` is the module's upstream, checked after each test for requests nobody scripted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from agui_proxy.store import MemoryQuotaStore, QuotaStore, RedisQuotaStore

from .support.proxy import ProxyProcess, ProxySetup, start_proxy
from .support.redis_server import RedisServer
from .support.upstream import RefusedPort, ScriptedUpstream


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
def refused() -> Iterator[RefusedPort]:
    """A loopback port that refuses connections: an upstream that is down."""
    with RefusedPort() as port:
        yield port


@pytest.fixture(scope="module")
def proxy(proxy_setup: ProxySetup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    """The real proxy (its CLI), started once per module as the module's ``proxy_setup`` fixture says."""
    with start_proxy(tmp_path_factory.mktemp("proxy"), proxy_setup.config, env=proxy_setup.env,
                     extra_args=proxy_setup.extra_args) as running:
        yield running


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the run (tests/support/redis_server.py); tests keep apart by key prefix."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Callable[[], QuotaStore]:
    """Each store in turn, for a test body that must give the same answers with both."""
    if request.param == "memory":
        return MemoryQuotaStore
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda: RedisQuotaStore(server.url, timeout=1.0)
