"""Every problem of a config file at once, each naming its field.

The loader (``load.py``) hands over what went wrong in two passes: the ``${VAR}`` references
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
from collections.abc import Callable, Iterable, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..errors import ConfigError

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


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models inside ``Model``, ``list[Model]``, ``dict[str, Model]`` or a tagged union of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _tagged(models: list[type[BaseModel]], tag: object) -> type[BaseModel] | None:
    """The member of a union whose ``provider`` is the literal ``tag`` (pydantic's loc names it)."""
    for model in models:
        field = model.model_fields.get("provider")
        if field is not None and get_args(field.annotation) == (tag,):
            return model
    return None


def _known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The option names of the section at ``loc`` (pydantic's, union tags included), if known."""
    current: type[BaseModel] | None = model
    candidates: list[type[BaseModel]] = []
    dict_key_next = False  # the part after a dict-valued field is a name (upstreams.<name>)
    for part in loc:
        if dict_key_next or isinstance(part, int):
            dict_key_next = False
            continue
        if current is None:
            current = _tagged(candidates, part)  # the tag of a union member
            if current is None:
                return []
            continue
        field = current.model_fields.get(part)
        if field is None:
            return []
        dict_key_next = get_origin(field.annotation) is dict
        candidates = _models_in(field.annotation)
        current = candidates[0] if len(candidates) == 1 else None
    if current is None:
        return []
    return [name for name in current.model_fields if name != "base_dir"]


def _is_within(field: str, fields: Iterable[str]) -> bool:
    return any(field == f or field.startswith((f + ".", f + "[")) for f in fields)


# How the loader words one of pydantic's errors: the field's loc and the message, or None (as is).
Translate = Callable[[ErrorDetails], "tuple[tuple[Any, ...], str] | None"]


def validation_problems(exc: ValidationError, model: type[BaseModel], *, source: str,
                        unresolved: Iterable[str] = (), translate: Translate | None = None) -> list[ConfigError]:
    """One :class:`ConfigError` per problem pydantic found, in pydantic's order."""
    unresolved = set(unresolved)
    worded = []
    for error in exc.errors():
        loc, message = (translate(error) if translate else None) or (tuple(error["loc"]), error["msg"])
        worded.append((error, tuple(loc), message))
    explained: set[str] = set()  # required options a misspelling accounts for
    hints: dict[str, str] = {}
    for error, loc, _ in worded:
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _known_keys(model, error["loc"][:-1]), n=1, cutoff=0.75)
            if close:
                hints[_field_name(loc)] = close[0]
                explained.add(_field_name((*loc[:-1], close[0])))
    problems = []
    for error, loc, message in worded:
        field = _field_name(loc)
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
            message = message.removeprefix("Value error, ")
        problems.append(ConfigError(message, path=source, field=field or None))
    return problems
