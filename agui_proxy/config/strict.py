"""What every section of the config shares: strict frozen models and the checks written once.

Every section module builds on it; :func:`check_paths_distinct` is the one check that no two
things the proxy serves take the same path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

# RFC 9110 section 5.6.2: a header name is a token.
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class Strict(BaseModel):
    """Unknown options are errors (a typo is never silently ignored); a loaded config never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def http_url(url: str, name: str) -> str:
    """A URL the proxy sends to (an upstream's ``base_url``, the trace collector's ``endpoint``)."""
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError(f"{name} must be an http:// or https:// URL, not {url!r}")
    return url


def absolute_path(value: str) -> str:
    """A path the proxy serves: it starts with ``/``."""
    if not value.startswith("/"):
        raise ValueError(f"a path starts with '/', not {value!r}")
    return value


def check_paths_distinct(claims: Iterable[tuple[str, str]], reserved: Mapping[str, str] | None = None) -> None:
    """Each ``(field, path)`` of ``claims`` takes its path; a path taken twice, or one of
    ``reserved`` (path: why), is a ``ValueError`` naming the field and what has it already."""
    taken: dict[str, str] = {}
    for field, path in claims:
        if reserved and path in reserved:
            raise ValueError(f"{field}: {path!r} {reserved[path]}")
        if path in taken:
            raise ValueError(f"{field}: {path!r} is also {taken[path]}")
        taken[path] = field
