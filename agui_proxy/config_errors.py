"""Every problem of a config file at once, each naming its field.

The loader (``config.py``) hands over what went wrong in two passes: the ``${VAR}`` references
that could not be resolved (:class:`Unresolved`, collected over the whole document instead of
stopping at the first), and pydantic's :class:`~pydantic.ValidationError`, which already holds
every field's error.  :func:`validation_problems` turns the latter into one
:class:`~agui_proxy.errors.ConfigError` per field, drops the follow-on errors of a field whose
variable was missing (its value is a placeholder), and reports a misspelt key as what it is: an
unknown option with the close known name (``rotues: unknown option (did you mean routes?)``)
rather than the ``routes: is required`` that follows from it.

Checks across sections (a route naming a missing upstream) run once the sections themselves are
valid, as pydantic runs a model's own validators after its fields': fix the first round and the
next run reports them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any, get_origin

from pydantic import BaseModel, ValidationError

from .errors import ConfigError

# What stands in for an unset ${VAR} so that validation goes on and reports the other problems.
UNSET_PLACEHOLDER = "${unset}"


class Unresolved:
    """The ``${VAR}`` references of a document that are not set and have no ``:-default``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[ConfigError] = []
        self.fields: set[str] = set()

    def missing(self, name: str, field: str) -> str:
        self.problems.append(ConfigError(
            f"environment variable {name} is not set (and ${{{name}}} has no :-default)", path=self.source,
            field=field or None))
        self.fields.add(field)
        return UNSET_PLACEHOLDER


def _field_name(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The option names of the section at ``loc`` (the model reached by following it), if known."""
    current: Any = model
    dict_key_next = False  # the part after a dict-valued field is a name (upstreams.<name>)
    for part in loc:
        if dict_key_next or isinstance(part, int):
            dict_key_next = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        dict_key_next = get_origin(field.annotation) is dict
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name in current.model_fields if name != "base_dir"]
    return []


def _model_in(annotation: Any) -> Any:
    """The model inside ``list[Model]`` / ``dict[str, Model]`` / ``Model``, else the annotation."""
    for arg in (*getattr(annotation, "__args__", ()), annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def _is_within(field: str, fields: Iterable[str]) -> bool:
    return any(field == f or field.startswith((f + ".", f + "[")) for f in fields)


def validation_problems(exc: ValidationError, model: type[BaseModel], *, source: str,
                        unresolved: Iterable[str] = ()) -> list[ConfigError]:
    """One :class:`ConfigError` per problem pydantic found, in the document's order."""
    errors = exc.errors()
    unresolved = set(unresolved)
    unknown: dict[tuple[int | str, ...], list[tuple[str, str]]] = {}
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            unknown.setdefault(loc[:-1], []).append((str(loc[-1]), _field_name(loc)))
    explained: set[str] = set()  # required options a misspelling accounts for
    hints: dict[str, str] = {}
    for section, keys in unknown.items():
        known = _known_keys(model, section)
        for key, field in keys:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
            if close:
                hints[field] = close[0]
                explained.add(_field_name((*section, close[0])))
    problems = []
    for error in errors:
        field = _field_name(error["loc"])
        if _is_within(field, unresolved):
            continue  # its variable is missing: that is the problem already reported
        if error["type"] == "missing":
            if field in explained:
                continue
            message = "is required"
        elif error["type"] == "extra_forbidden":
            hint = f"did you mean {hints[field]}?" if field in hints else "see config.example.yaml for the options"
            message = f"unknown option ({hint})"
        else:
            message = error["msg"].removeprefix("Value error, ")
        problems.append(ConfigError(message, path=source, field=field or None))
    return problems
