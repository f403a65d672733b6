"""What the CLI says at start about quotas and the store."""

from __future__ import annotations

from typing import Any

import pytest

from agui_proxy.config import config_from_dict
from agui_proxy.quotas import startup

from ..support.configs import replay_config


def config(**sections: Any) -> Any:
    return config_from_dict(replay_config(**sections), env={})


QUOTAS = {"per_identity": {"requests_per_minute": 5}}


def test_workers_without_a_store_and_quotas_without_auth() -> None:
    notes = startup.startup_warnings(config(quotas=QUOTAS), workers=3)
    assert any("quotas with --workers 3 and no store.url" in note for note in notes)
    assert any("every request is the one identity 'anonymous'" in note for note in notes)
    shared = config(quotas=QUOTAS, store={"url": "redis://127.0.0.1:6379/0"}, auth={"bearer_tokens": ["t" * 20]})
    assert startup.startup_warnings(shared, workers=3) == []
    assert startup.startup_warnings(config(), workers=3) == []  # no quotas, nothing to say


def test_a_store_url_without_the_redis_package_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with_store = config(store={"url": "redis://127.0.0.1:6379/0"})
    assert startup.startup_error(with_store) is None  # redis-py is installed with the test extra
    monkeypatch.setattr(startup, "redis_available", lambda: False)
    message = startup.startup_error(with_store)
    assert message is not None and "pip install 'agui-proxy[redis]'" in message
    assert startup.startup_error(config()) is None
