"""What the CLI says at start about users and quotas: a store it cannot open, or quotas that
would not mean what they say (each worker counting apart, every request one identity)."""

from __future__ import annotations

from ..config import Config
from ..store import redis_available


def startup_error(config: Config) -> str | None:
    """A reason not to start at all."""
    if config.store.url is not None and not redis_available():
        return ("store.url is set but the redis package is not installed: pip install 'agui-proxy[redis]' "
                "(or remove store.url to keep quotas in this process's memory)")
    return None


def startup_warnings(config: Config, workers: int) -> list[str]:
    if not config.quotas.enabled:
        return []
    notes = []
    if workers > 1 and config.store.url is None:
        notes.append(f"quotas with --workers {workers} and no store.url: each worker keeps its own counters, so "
                     f"an identity gets up to {workers} times its limits; set store.url (Redis) to share them")
    if not config.auth.enabled:
        notes.append("quotas without auth (auth.bearer_tokens or auth.jwt): every request is the one identity "
                     "'anonymous' and shares one budget")
    return notes
