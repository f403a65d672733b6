"""``fastjson.loads`` gives exactly what ``json.loads`` gives: the same values of the same types,
or the same kind of error, on anything (orjson is only a faster road to the same result)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agui_proxy.core import fastjson


def same(text: str) -> None:
    try:
        expected: Any = ("value", repr(json.loads(text)))
    except RecursionError:  # refused as a ValueError instead, like any text that is not JSON
        expected = ("error", fastjson.NestedTooDeep)
    except ValueError as exc:
        expected = ("error", type(exc))
    try:
        got: Any = ("value", repr(fastjson.loads(text)))
    except (ValueError, RecursionError) as exc:
        got = ("error", type(exc))
    assert got == expected, text[:200]


@pytest.mark.parametrize("text", [
    '{"id":"chatcmpl-1","created":1727346168,"choices":[{"index":0,"delta":{"content":"Hi"}}]}',
    "NaN", "[Infinity, -Infinity]", '{"a": 1e400}', "-1e400",  # the standard library's extensions
    '"\\ud83d"', '{"delta": "a\\ud83db"}', '"\\udc00\\ud83d"',  # lone surrogate escapes
    "18446744073709551615", "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
    "-9999999999999999999", "123456789012345678901234567890", '{"args": {"id": 98765432109876543210}}',
    '{"text": "a number in a string 12345678901234567890123"}', "0.1", "-0", "-0.0", "5e-324",
    "1.7976931348623157e308", "123456789012345678", "1.2345678901234567890123e5",
    '{"a": 1, "a": 2}', "", " ", "{", '{"a":}', "[1,]", "\"\x01\"", '"tab\there"', "nul", "\ufeff{}",
    "[" * 5000 + "]" * 5000, '{"é": "日本", "emoji": "\\ud83d\\ude00"}',
])
def test_edge_cases(text: str) -> None:
    same(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_any_json_document(value: Any, ascii_only: bool) -> None:
    same(json.dumps(value, ensure_ascii=ascii_only))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='0123456789-+.eE[]{}",: \\u"ab\ud83d', max_size=40))
def test_any_text(text: str) -> None:
    same(text)


def test_special_floats_round_trip_the_same_way() -> None:
    assert math.isnan(fastjson.loads("NaN"))
    assert fastjson.loads("[1e400]") == [math.inf]


@pytest.mark.parametrize("depth", [1025, 5000, 200_000])
def test_nesting_past_every_parsers_depth_is_never_a_recursion_error(depth: int) -> None:
    """orjson stops at 1,024 levels, then json.loads decides (how deep it recurses depends on the
    Python version): its RecursionError is a ValueError like any other refusal."""
    same("[" * depth + "]" * depth)
    if depth == 200_000:
        with pytest.raises(fastjson.NestedTooDeep):
            fastjson.loads("[" * depth + "]" * depth)
