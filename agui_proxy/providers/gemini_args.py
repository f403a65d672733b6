"""Gemini 3's streamed function-call arguments (``partialArgs``) written out as JSON text.

With ``toolConfig.functionCallingConfig.streamFunctionCallArguments: true`` a call arrives in
pieces (FORMATS.md section 5; stream-function-call-arguments-parallel.sse)::

    {"functionCall": {"name": "getWeather", "willContinue": true}}
    {"functionCall": {"partialArgs": [{"jsonPath": "$.location", "stringValue": "Bos", "willContinue": true}], ...}}
    {"functionCall": {"partialArgs": [{"jsonPath": "$.location", "stringValue": "ton"}], ...}}
    {"functionCall": {}}

Each fragment sets one scalar (``stringValue``, ``numberValue``, ``boolValue``, ``nullValue``) at a
JSONPath; a string whose fragment says ``willContinue`` goes on in the next fragment for the same
path.  The model writes its arguments front to back, so the JSON text is written as the
fragments come: close what the new path leaves, open what it enters, write the value.  The
``TOOL_CALL_ARGS`` deltas then concatenate to the call's arguments, as for every other provider.
A fragment that goes back into a part already written (a key twice, an array index going
backwards) cannot be expressed that way and is a protocol error.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import UpstreamProtocolError

Segment = str | int

# One step of a JSONPath: .name, [3], ['name'] or ["name"].
_STEP = re.compile(r"""\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")
_VALUE_KEYS = ("stringValue", "numberValue", "boolValue", "nullValue")


def parse_json_path(path: Any) -> list[Segment]:
    """``$.operations[0].price`` -> ``["operations", 0, "price"]``."""
    if not isinstance(path, str) or not path.startswith("$") or len(path) < 2:
        raise UpstreamProtocolError(f"upstream sent a function-call argument path that is not a JSONPath: {path!r}")
    steps: list[Segment] = []
    at = 1
    while at < len(path):
        match = _STEP.match(path, at)
        if match is None:
            raise UpstreamProtocolError(f"upstream sent a function-call argument path that is not a JSONPath: {path!r}")
        name, index, quoted, double_quoted = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(next(v for v in (name, quoted, double_quoted) if v is not None))
        at = match.end()
    return steps


@dataclass(slots=True)
class _Container:
    is_array: bool
    child: Segment | None = None  # the member being written
    length: int = 0  # members written so far
    keys: set[str] = field(default_factory=set)


class PartialArgsWriter:
    """Turns the ``partialArgs`` fragments of one call into pieces of its JSON arguments."""

    def __init__(self) -> None:
        self._open: list[_Container] = []  # the containers open from the root down
        self._string_open = False  # the last value is a string that goes on

    def feed(self, fragment: Any) -> str:
        """The JSON text one fragment adds (possibly empty)."""
        if not isinstance(fragment, dict):
            return ""
        kind = next((k for k in _VALUE_KEYS if k in fragment), None)
        if kind is None:
            return ""  # a fragment with no value carries nothing to write
        path = parse_json_path(fragment.get("jsonPath"))
        goes_on = fragment.get("willContinue") is True
        out: list[str] = []
        if self._string_open:
            if kind == "stringValue" and self._is_current(path):
                out.append(_escaped(fragment[kind]))
                if not goes_on:
                    out.append('"')
                    self._string_open = False
                return "".join(out)
            out.append('"')
            self._string_open = False
        self._move_to(path, out)
        if kind == "stringValue":
            out.append('"' + _escaped(fragment[kind]))
            if goes_on:
                self._string_open = True
            else:
                out.append('"')
        else:
            out.append(_scalar(kind, fragment[kind], path))
        return "".join(out)

    def close(self) -> str:
        """The text that ends the arguments: open strings and containers closed."""
        out = ['"'] if self._string_open else []
        self._string_open = False
        while self._open:
            out.append("]" if self._open.pop().is_array else "}")
        return "".join(out)

    def _is_current(self, path: list[Segment]) -> bool:
        return len(path) == len(self._open) and all(c.child == s for c, s in zip(self._open, path, strict=True))

    def _move_to(self, path: list[Segment], out: list[str]) -> None:
        """Write the text that leads from the last value written to a new member at ``path``."""
        if not self._open:
            self._open.append(_Container(is_array=isinstance(path[0], int)))
            out.append("[" if self._open[0].is_array else "{")
        depth = 0  # how many containers on the way to ``path`` are open already, minus one
        while depth < len(path) - 1 and depth + 1 < len(self._open) and self._open[depth].child == path[depth]:
            depth += 1
        while len(self._open) > depth + 1:
            out.append("]" if self._open.pop().is_array else "}")
        _enter(self._open[depth], path[depth], path, out)
        for step in path[depth + 1:]:
            container = _Container(is_array=isinstance(step, int))
            out.append("[" if container.is_array else "{")
            self._open.append(container)
            _enter(container, step, path, out)


def _enter(container: _Container, step: Segment, path: list[Segment], out: list[str]) -> None:
    """Start a new member ``step`` of ``container``: the comma, and the key of an object."""
    if container.is_array:
        if not isinstance(step, int) or step < container.length:
            raise _out_of_order(path)
        while container.length < step:  # a skipped index: JSON arrays have no holes
            out.append(",null" if container.length else "null")
            container.length += 1
        if container.length:
            out.append(",")
    else:
        if not isinstance(step, str) or step in container.keys:
            raise _out_of_order(path)
        container.keys.add(step)
        out.append(("," if container.length else "") + json.dumps(step, ensure_ascii=False) + ":")
    container.length += 1
    container.child = step


def _out_of_order(path: list[Segment]) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"upstream streamed function-call arguments out of order (at {path!r})")


def _escaped(value: Any) -> str:
    if not isinstance(value, str):
        raise UpstreamProtocolError("upstream sent a stringValue that is not a string")
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _scalar(kind: str, value: Any, path: list[Segment]) -> str:
    if kind == "nullValue":
        return "null"  # proto's NullValue enum: "NULL_VALUE"
    if kind == "boolValue" and isinstance(value, bool):
        return "true" if value else "false"
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "numberValue" and is_number and math.isfinite(value):
        return json.dumps(value)
    raise UpstreamProtocolError(f"upstream sent a {kind} that is not one (at {path!r})")
