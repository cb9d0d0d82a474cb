"""queue/plain_json.py writes what `json.dumps` writes: for any JSON-like value (plain or not:
escapes, non-ASCII, floats, tuples, deep nesting), `plain_json` is json's text with the same
separators and either `ensure_ascii`, or None (left to json); `dumps` is `json.dumps`, its
text and its errors (a circular value, a value json cannot encode)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtp_connector.queue.plain_json import MAX_DEPTH, dumps, plain_json

TEXT = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
    st.text(max_size=8),  # anything: controls, quotes, backslashes, non-ASCII, surrogates
    st.sampled_from(["", "123456", 'a"b', "a\\b", "\x7f", "é", "\u2028", "~ !"]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(TEXT, inner, max_size=4),
    ),
    max_leaves=20,
)
SEPARATORS = [((", ", ": "), True), ((",", ":"), False), ((",", ":"), True)]


@given(VALUES)
def test_plain_json_is_json_dumps_or_none(value: Any) -> None:
    for (item, key), ascii_only in SEPARATORS:
        text = plain_json(value, item, key)
        if text is not None:
            assert text == json.dumps(value, separators=(item, key), ensure_ascii=ascii_only)


@given(VALUES)
def test_dumps_is_json_dumps(value: Any) -> None:
    assert dumps(value) == json.dumps(value)


def test_the_usual_values_are_plain() -> None:
    assert plain_json({"code": "123456", "user": {"name": "Ann"}, "n": [1, True, None]})
    assert plain_json(["0f3c2a", "b1"]) == '["0f3c2a", "b1"]'


def test_deep_and_circular_values_are_left_to_json() -> None:
    deep: Any = "x"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    assert plain_json(deep) is None and dumps(deep) == json.dumps(deep)
    circular: dict[str, Any] = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps(circular)
    with pytest.raises(TypeError, match="is not JSON serializable"):
        dumps({"when": object()})
