"""A subject's clean-up and a display name's check skip their regular expression for
printable text: for every input the answer must be the expression's."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtp_connector.addresses import CONTROL_RUNS, CONTROLS, check_display_name
from smtp_connector.compose.rendering import clean_header_text

texts = st.one_of(
    st.text(max_size=40),
    st.text(st.sampled_from("ab \t\n\r\x00\x1f\x7f\x85\x9f\u2028\u2029\u00a0\u3000é"), max_size=12),
)


def test_no_printable_character_is_one_the_expressions_match() -> None:
    """The premise, over every code point: `isprintable()` is False for all they match."""
    matched = [chr(c) for c in range(0x110000) if CONTROLS.match(chr(c))]
    assert matched and not any(char.isprintable() for char in matched)
    assert all(CONTROL_RUNS.match(char) for char in matched)


@settings(max_examples=1000, deadline=None, database=None)
@given(value=texts)
@example(value="")
@example(value="  Your code: 123456 ")
@example(value="line\u2028break")
def test_clean_header_text_answers_as_its_expression(value: str) -> None:
    assert clean_header_text(value) == CONTROL_RUNS.sub(" ", value).strip()


def _checked(name: str, collapse: bool) -> str | tuple[str, str]:
    try:
        return check_display_name(name, collapse=collapse)
    except ValueError as exc:
        return ("refused", str(exc))


def _by_expression(name: str, collapse: bool) -> str | tuple[str, str]:
    """What the expression decides: a name it finds nothing in is kept as is; one it finds a
    control character in goes the expression's way (collapsed or refused), never as is."""
    if CONTROLS.search(name) is None:
        return name
    answer = _checked(name, collapse)
    assert answer != name
    return answer


@settings(max_examples=1000, deadline=None, database=None)
@given(name=texts, collapse=st.booleans())
@example(name="", collapse=False)
@example(name="Ann\tLee", collapse=True)
@example(name="Ann\u2029", collapse=False)
def test_check_display_name_answers_as_its_expression(name: str, collapse: bool) -> None:
    assert _checked(name, collapse) == _by_expression(name, collapse)
