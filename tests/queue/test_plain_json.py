"""queue/plain_json.py writes what `json.dumps` writes, reusing json's C encoder: for any
JSON-like value (escapes, non-ASCII, floats, tuples, nesting), its text; for a circular value,
a value json cannot encode or one nested past the recursion limit, its error — and a call
after such a failure, or one made while another call is still running (another thread, a
value's own code), is not misled by the marks the other call's encoder holds."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector.queue import plain_json
from smtp_connector.queue.plain_json import ReusedEncoder, dumps

TEXT = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
    st.text(max_size=8),  # anything: controls, quotes, backslashes, non-ASCII, surrogates
    st.sampled_from(["", "123456", 'a"b', "a\\b", "\x7f", "é", "\u2028", "~ !"]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    TEXT,  # NaN and infinities too
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(TEXT, inner, max_size=4),
        st.dictionaries(st.integers() | st.booleans() | st.none(), inner, max_size=3),
    ),
    max_leaves=20,
)


def outcome(call: Any, value: Any) -> tuple[str, str]:
    try:
        return "text", call(value)
    except (ValueError, TypeError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_dumps_is_json_dumps(value: Any) -> None:
    assert dumps(value) == json.dumps(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES | st.builds(lambda v: [v, object()], VALUES), min_size=1, max_size=5))
def test_failures_between_calls_change_nothing(values: list[Any]) -> None:
    """Some values json cannot write, in between: every call answers as `json.dumps`."""
    for value in values:
        assert outcome(dumps, value) == outcome(json.dumps, value)


def test_the_usual_payloads() -> None:
    payload = {"code": "123456", "application": {"name": "Acme"}, "n": [1, True, None, 1.5]}
    assert dumps(payload) == json.dumps(payload)
    assert dumps("é") == json.dumps("é") == '"\\u00e9"'


def test_circular_unencodable_and_deep_values_raise_as_json_does() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps(circular)
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        dumps({"when": object()})
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RecursionError):
        dumps(deep)


def test_a_container_is_not_taken_for_circular_after_a_failed_call() -> None:
    """A failed call leaves its marks in its encoder: that encoder must not be used again."""
    shared = ["a"]
    value = [shared, object()]
    with pytest.raises(TypeError):
        dumps(value)  # fails inside `value`, with `value` marked
    value.pop()
    assert dumps(value) == '[["a"]]'
    assert dumps([value, value]) == '[[["a"]], [["a"]]]'


def test_overlapping_calls_do_not_share_an_encoder() -> None:
    """A dict subclass whose `items` waits (it runs mid-call, with the GIL released) while
    another thread writes the same dict: each call has an encoder of its own."""
    inside, done = threading.Event(), threading.Event()
    first = [True]

    class Waiting(dict[str, Any]):
        def items(self) -> Any:
            if first[0]:
                first[0] = False
                inside.set()
                assert done.wait(30)
            return super().items()

    value = Waiting(code="1")
    texts: list[str] = []
    thread = threading.Thread(target=lambda: texts.append(dumps(value)))
    thread.start()
    assert inside.wait(30)
    try:
        assert dumps(value) == json.dumps(value) == '{"code": "1"}'
    finally:
        done.set()
        thread.join(30)
    assert texts == ['{"code": "1"}']
    assert len(plain_json.dumps._free) <= 2


SETTINGS = [
    {"ensure_ascii": False, "separators": (",", ":")},  # the send's 202 (server/fast_send.py)
    {"sort_keys": True, "check_circular": False},
    {"indent": 2},  # not the one-shot C path: `encode` itself
]


@settings(max_examples=300, deadline=None)
@given(VALUES | st.builds(lambda v: [v, object()], VALUES))
def test_other_settings_are_their_encoders(value: Any) -> None:
    for options in SETTINGS:
        reused = ReusedEncoder(json.JSONEncoder(**options))  # type: ignore[arg-type]
        reference = json.JSONEncoder(**options)  # type: ignore[arg-type]
        assert outcome(reused, value) == outcome(reference.encode, value)
        assert outcome(reused, value) == outcome(reference.encode, value)  # reused
