"""Both stores for the quota tests: the same test body against memory and a real redis-server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from agui_proxy.store import MemoryStore, RedisStore, Store
from tests.redis_server import RedisServer


@pytest.fixture(scope="package")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Callable[[], Store]:
    if request.param == "memory":
        return MemoryStore
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda: RedisStore(server.url, timeout=1.0)
