"""Gemini 3's streamed ``partialArgs`` written out as JSON text, fragment by fragment."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agui_proxy.errors import UpstreamProtocolError
from agui_proxy.providers.gemini_args import PartialArgsWriter, parse_json_path


def write(fragments: list[dict[str, Any]]) -> tuple[list[str], Any]:
    writer = PartialArgsWriter()
    pieces = [writer.feed(f) for f in fragments] + [writer.close()]
    return pieces, json.loads("".join(pieces))


def test_paths() -> None:
    assert parse_json_path("$.operations[0].price") == ["operations", 0, "price"]
    assert parse_json_path("$['a b'][12][\"c\"]") == ["a b", 12, "c"]
    for bad in ("location", "$", "$.", "$[x]", 3, None):
        with pytest.raises(UpstreamProtocolError, match="JSONPath"):
            parse_json_path(bad)


def test_a_string_streamed_in_pieces_is_written_as_it_comes() -> None:
    pieces, value = write([
        {"jsonPath": "$.location", "stringValue": "Bos", "willContinue": True},
        {"jsonPath": "$.location", "stringValue": "ton \"MA\" ✓", "willContinue": True},
        {"jsonPath": "$.location", "stringValue": ""},
    ])
    assert value == {"location": 'Boston "MA" ✓'}
    assert pieces[0] == '{"location":"Bos'  # the client sees the text grow


def test_nested_objects_arrays_and_every_scalar() -> None:
    _, value = write([
        {"jsonPath": "$.order.id", "numberValue": 7},
        {"jsonPath": "$.order.items[0].sku", "stringValue": "A-1"},
        {"jsonPath": "$.order.items[0].qty", "numberValue": 2.5},
        {"jsonPath": "$.order.items[1].sku", "stringValue": "B", "willContinue": True},
        {"jsonPath": "$.order.items[1].sku", "stringValue": "-2"},
        {"jsonPath": "$.order.gift", "boolValue": False},
        {"jsonPath": "$.note", "nullValue": "NULL_VALUE"},
        {"jsonPath": "$.tags[0]", "stringValue": "x"},
        {"jsonPath": "$.tags[2]", "stringValue": "z"},  # a skipped index reads as null
    ])
    assert value == {"order": {"id": 7, "items": [{"sku": "A-1", "qty": 2.5}, {"sku": "B-2"}], "gift": False},
                     "note": None, "tags": ["x", None, "z"]}


def test_an_open_string_is_closed_by_the_next_path_or_the_end() -> None:
    _, value = write([{"jsonPath": "$.a", "stringValue": "one", "willContinue": True},
                      {"jsonPath": "$.b", "stringValue": "two", "willContinue": True}])
    assert value == {"a": "one", "b": "two"}


def test_nothing_written_without_values() -> None:
    writer = PartialArgsWriter()
    assert writer.feed({"jsonPath": "$.a"}) == ""
    assert writer.close() == ""


@pytest.mark.parametrize("fragments", [
    [{"jsonPath": "$.a", "numberValue": 1}, {"jsonPath": "$.a", "numberValue": 2}],
    [{"jsonPath": "$.a.x", "numberValue": 1}, {"jsonPath": "$.b", "numberValue": 2},
     {"jsonPath": "$.a.y", "numberValue": 3}],
    [{"jsonPath": "$.l[1]", "numberValue": 1}, {"jsonPath": "$.l[0]", "numberValue": 2}],
    [{"jsonPath": "$.a", "numberValue": 1}, {"jsonPath": "$.a.b", "numberValue": 2}],
])
def test_going_back_is_a_protocol_error(fragments: list[dict[str, Any]]) -> None:
    writer = PartialArgsWriter()
    with pytest.raises(UpstreamProtocolError, match="out of order"):
        for fragment in fragments:
            writer.feed(fragment)


@pytest.mark.parametrize("fragment", [
    {"jsonPath": "$.a", "numberValue": "7"}, {"jsonPath": "$.a", "boolValue": 1},
    {"jsonPath": "$.a", "stringValue": 5}, {"jsonPath": "$.a", "numberValue": float("nan")},
])
def test_a_value_of_the_wrong_type_is_a_protocol_error(fragment: dict[str, Any]) -> None:
    with pytest.raises(UpstreamProtocolError):
        PartialArgsWriter().feed(fragment)


# -- any arguments, cut into fragments the way Gemini streams them, come out whole -----------

_KEYS = st.text(st.characters(codec="utf-8", exclude_characters="'\"[].$"), min_size=1, max_size=6)
_SCALARS = st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6), st.booleans(), st.none(),
                     st.floats(allow_nan=False, allow_infinity=False, width=32))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=4), st.dictionaries(_KEYS, inner, min_size=1, max_size=4)), max_leaves=12)


def fragments_of(value: Any, path: str, cuts: st.DataObject) -> list[dict[str, Any]]:
    """The partialArgs a streaming Gemini would send for ``value`` at ``path``, in document order."""
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in fragments_of(v, f"{path}['{k}']", cuts)]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in fragments_of(v, f"{path}[{i}]", cuts)]
    if isinstance(value, str):
        at = sorted(cuts.draw(st.lists(st.integers(0, len(value)), max_size=3)))
        pieces = [value[a:b] for a, b in zip([0, *at], [*at, len(value)], strict=True)]
        return [{"jsonPath": path, "stringValue": p, **({"willContinue": True} if i < len(pieces) - 1 else {})}
                for i, p in enumerate(pieces)]
    if value is None:
        return [{"jsonPath": path, "nullValue": "NULL_VALUE"}]
    if isinstance(value, bool):
        return [{"jsonPath": path, "boolValue": value}]
    return [{"jsonPath": path, "numberValue": value}]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=4), st.data())
def test_any_arguments_round_trip(arguments: dict[str, Any], cuts: st.DataObject) -> None:
    _, value = write(fragments_of(arguments, "$", cuts))
    assert value == arguments
