"""JSON decoding of upstream events: orjson where it gives exactly what ``json.loads`` gives.

Every upstream event is a JSON document, so decoding it is the largest single cost of the core
per token: a Chat Completions chunk decodes in 1.6 us with orjson instead of 3.5-4.5 us with
``json.loads`` (bench/OPTIMISATIONS.md, the orjson row).  Two differences are kept out:

- orjson refuses what the standard library accepts (``NaN``, ``Infinity``, ``1e400``, a lone
  surrogate escape such as ``"\\ud83d"``): on any orjson error the standard library decides, so
  the result, or the error, is the one ``json.loads`` gives;
- orjson reads an integer beyond 64 bits as a float, losing digits (a tool call's arguments sent
  as an object carry the user's numbers, Gemini's always do): text with a run of 19 or more digits
  anywhere goes to the standard library.  Shorter runs are integers orjson keeps exact.

Without orjson installed this is ``json.loads``.

Text nested deeper than the standard library can recurse (orjson refuses past 1,024 levels, and
``json.loads`` then raises ``RecursionError``) is refused with a ``ValueError`` like any other text
that is not JSON, so a hostile upstream's event is its protocol error, not the proxy's crash.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps the core working without it
    orjson = None  # type: ignore[assignment]

__all__ = ["NestedTooDeep", "loads"]

# Every ASCII digit byte becomes "0" and every other byte ".", so a run of digits is a run of "0".
_DIGIT_RUNS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E for b in range(256))
_LONG_RUN = b"0" * 19


class NestedTooDeep(json.JSONDecodeError):
    """JSON nested deeper than the standard library's parser can recurse."""

    def __init__(self, text: str) -> None:
        super().__init__("JSON nested too deeply to parse", text, 0)


def loads(text: str) -> Any:
    """``json.loads(text)``, faster; any text that does not parse raises ``ValueError``."""
    if orjson is None:
        return _stdlib_loads(text)
    data = text.encode("utf-8", "surrogatepass")
    if _LONG_RUN in data.translate(_DIGIT_RUNS):
        return _stdlib_loads(text)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _stdlib_loads(text)


def _stdlib_loads(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise NestedTooDeep(text) from None
