"""Building a :class:`~agui_proxy.config.model.Config` from a YAML file, a parsed document, or the
embedded default.

``${VAR}`` and ``${VAR:-default}`` in any string value are taken from the environment before
validation (``interpolation.py``); a variable that is not set and has no default is an error
naming it.  Every error names the file, the field and what is wrong
(``config.yaml: upstreams.openai.base_url: ...``), every problem of the file at once (``problems.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .interpolation import interpolate
from .model import Config
from .problems import Unresolved, validation_problems
from .upstreams import upstream_error


def config_from_dict(data: Any, *, source: str = "<config>", env: Mapping[str, str] | None = None,
                     base_dir: Path | None = None) -> Config:
    """Validate a parsed document; a :class:`ConfigError` lists every problem found (``.problems``)."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping (server, auth, upstreams, routes)", path=source)
    unresolved = Unresolved(source)
    data = interpolate(data, os.environ if env is None else env, unresolved=unresolved)
    base_dir = base_dir or Path.cwd()
    try:
        config = Config.model_validate({**data, "base_dir": base_dir}, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = validation_problems(exc, Config, source=source, unresolved=unresolved.fields,
                                       translate=upstream_error)
        raise ConfigError.of([*unresolved.problems, *problems], source) from None
    if unresolved.problems:
        raise ConfigError.of(unresolved.problems, source)
    return config


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML config file; raises :class:`ConfigError`."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", path=str(source)) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", path=str(source)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"not valid YAML{line}: {getattr(exc, 'problem', exc)}", path=str(source)) from None
    return config_from_dict(data, source=str(source), env=env, base_dir=source.resolve().parent)


def default_config(host: str = "127.0.0.1", port: int = 8000) -> Config:
    """The embedded default: ``POST /api/agent`` answered by the built-in demo recording, and the playground."""
    return config_from_dict(
        {
            "server": {"host": host, "port": port},
            "upstreams": {"demo": {"provider": "replay", "format": "openai-chat"}},
            "routes": [{"path": "/api/agent", "upstream": "demo"}],
            "playground": True,
        },
        source="<embedded default>",
        env={},
    )
