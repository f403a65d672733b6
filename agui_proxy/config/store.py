"""The ``store`` section: where state shared between requests (quotas, resumable runs) lives."""

from __future__ import annotations

from pydantic import Field, field_validator

from .strict import Strict


class StoreConfig(Strict):
    """Where state shared between requests lives: this process's memory, or Redis (``url``)."""

    url: str | None = Field(None, repr=False)  # redis://, rediss:// or unix://; absent: in-process memory
    # Seconds one store call may take before the request goes on without it (quotas.on_store_error).
    timeout: float = Field(0.25, gt=0, le=10)
    prefix: str = "agui-proxy:"  # of every key, so several deployments can share one Redis

    @field_validator("url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL (or absent: in-process memory)")
        return url
