"""``${VAR}`` and ``${VAR:-default}`` in a parsed YAML document, taken from the environment.

Done before validation, on every string of the document; each unset variable with no default
is noted (``problems.Unresolved``), so that one run names all of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .problems import Unresolved

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str], path: str = "", unresolved: Unresolved | None = None) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of a parsed YAML document.

    A variable that is not set and has no default raises :class:`ConfigError`, or with
    ``unresolved`` is noted there (every one of the document) and a placeholder put in its place.
    """
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{path}.{k}" if path else str(k), unresolved) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{path}[{i}]", unresolved) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        if unresolved is not None:
            return unresolved.missing(name, path)
        raise ConfigError(f"environment variable {name} is not set (and ${{{name}}} has no :-default)",
                          field=path)

    return _VAR.sub(substitute, value)
