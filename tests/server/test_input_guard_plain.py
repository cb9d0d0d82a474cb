"""`input_guard.loads` spares the walk over a parsed body when its text alone shows nothing to
refuse (`_plain`, issue 26 §1: every send's body goes through it). Hypothesis holds it equal to
the walk it replaces — `json.loads` and then `check_value` on every value — over bodies with
escapes, refused characters raw and escaped (keys too), lone surrogates, numbers that
overflow, and nesting around the 32-level limit: the same value, or the same error and
message."""

from __future__ import annotations

import json
from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector.server.input_guard import (
    _BAD_CHAR,
    MAX_DEPTH,
    BadInput,
    check_value,
    loads,
    no_bad_char,
)

# Characters around every rule's edge: refused C0/C1 controls, DEL, surrogates, and allowed
# tab/LF/CR, non-ASCII, brackets (which count towards depth in the text) and a backslash.
_EDGE = '\x00\x01\x07\t\n\r\x1f\x7f\x80\x85\x9f\xa0é\u2028\ud800\udfff€{}[]\\"e1'
texts = st.text(alphabet=st.sampled_from(_EDGE) | st.characters(), max_size=12)
numbers = st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False)
big = st.sampled_from(["1e999", "-1E+400", "1" * 320 + ".5", "2.5e3", "1e5", "1" * 299])
values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


def reference(body: bytes | str) -> Any:
    """The walk on every body, as before the text check."""
    try:
        value = json.loads(body, parse_constant=_reject)
    except RecursionError:
        raise BadInput(f"The JSON body nests deeper than {MAX_DEPTH} levels.") from None
    check_value(value)
    return value


def _reject(name: str) -> Any:
    raise BadInput(f"The JSON body contains {name}: numbers must be finite.")


def outcome(call: Any, body: bytes | str) -> tuple[str, Any]:
    try:
        return "value", json.dumps(call(body), sort_keys=True, ensure_ascii=True)
    except (BadInput, ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


def nested(depth: int, inner: str) -> str:
    return "[" * depth + inner + "]" * depth


@st.composite
def bodies(draw: st.DrawFn) -> bytes | str:
    """A JSON text from a value (escaped or raw), sometimes with a big number or deep nesting
    spliced in, as str or as UTF-8 bytes (surrogates kept, as a client could send them)."""
    text = json.dumps(draw(values), ensure_ascii=draw(st.booleans()))
    choice = draw(st.integers(0, 3))
    if choice == 1:
        text = f'{{"n": {draw(big)}, "v": {text}}}'
    elif choice == 2:
        depth = draw(st.integers(MAX_DEPTH - 3, MAX_DEPTH + 1))
        text = nested(depth, text if draw(st.booleans()) else '"[{"')
    if draw(st.booleans()):
        return text
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=600, deadline=None)
@given(bodies())
def test_loads_equals_the_walk(body: bytes | str) -> None:
    assert outcome(loads, body) == outcome(reference, body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"to": "a@example.org", "usageType": "SignIn", "payload": {"code": "123456"}}',
        '{"payload": {"name": "Zoë", "n": 1.5, "ok": true}}',
        nested(MAX_DEPTH, "1").encode(),
        nested(MAX_DEPTH + 1, "1").encode(),
        b'{"k\\u0001": 1}',  # an escaped control character in a key
        '{"v": "\u0085"}'.encode(),  # a raw C1 control in a value
        '"\ud800"'.encode("utf-8", "surrogatepass"),  # a raw lone surrogate
        b'{"n": 1e999}',
        b"[1e999, " + nested(5000, "1").encode() + b"]",  # an overflow, then too deep to parse
        b"[1e999, NaN]",
        b"[1e999, }",
        b'{"n": ' + b"1" * 320 + b".0}",
        "\ufeff{}".encode(),  # UTF-8 with a BOM: json.loads decodes it as utf-8-sig
        "\ufeff{}",  # a text with a BOM: json.loads refuses it
        '{"a": "b"}'.encode("utf-16"),
        b"{not json",
    ],
)
def test_loads_cases(body: bytes | str) -> None:
    assert outcome(loads, body) == outcome(reference, body)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from(_EDGE) | st.characters(), max_size=40))
def test_printable_text_has_no_refused_character(text: str) -> None:
    """`no_bad_char` (`isprintable` first) answers as the pattern's search, for every
    character class: every one the pattern refuses, and printable and non-printable ones it
    allows (tab, LF, CR, U+2028, unassigned and private-use characters, non-ASCII letters)."""
    assert no_bad_char(text) == (_BAD_CHAR.search(text) is None)


@pytest.mark.parametrize("code", [*range(0x00, 0xA1), 0x2028, 0x2029, 0xD800, 0xDFFF, 0xE000])
def test_each_character_alone(code: int) -> None:
    text = f"ab{chr(code)}cd"
    assert no_bad_char(text) == (_BAD_CHAR.search(text) is None)
