"""The smallest config document that loads, around the sections a test is about."""

from __future__ import annotations

from typing import Any


def replay_config(**sections: Any) -> dict[str, Any]:
    """One replay upstream (``demo``), one route to it (``/api/agent``), and ``sections`` on top."""
    return {"upstreams": {"demo": {"provider": "replay"}}, "routes": [{"path": "/api/agent", "upstream": "demo"}],
            **sections}
