"""Fixtures of the integration tests: a scripted upstream and the real proxy, one of each per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..upstream import ScriptedUpstream


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
