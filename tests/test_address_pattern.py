"""The plain-address pattern (`addresses._PLAIN`) is written with possessive repeats and
look-arounds for speed; it must accept exactly what its plain form accepts, with the same
groups, whether matched in full (`parse_address`) or from the start (`_plain_ascii`)."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtp_connector.addresses import _PLAIN

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
PLAIN_FORM = re.compile(rf"^({_ATEXT}(?:\.{_ATEXT})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})$")

# Few characters, each of a kind the pattern treats apart, so that odd mixes come up often.
_CHARS = "aZ09-.@!_~é\n "
label = st.one_of(
    st.text("aZ9-", min_size=0, max_size=6),
    st.builds(
        lambda n, edge: edge + "a" * n + edge, st.integers(60, 64), st.sampled_from(["", "-", "9"])
    ),
)
structured = st.builds(
    lambda local, labels, top, tail: f"{local}@{'.'.join(labels)}.{top}{tail}",
    st.text("aZ.!-", min_size=0, max_size=8),
    st.lists(label, min_size=0, max_size=4),
    st.one_of(st.text("aZ9-", max_size=4), st.builds(lambda n: "z" * n, st.integers(62, 65))),
    st.sampled_from(["", "\n", ".", "-", " "]),
)
values = st.one_of(st.text(_CHARS, max_size=40), structured)


def answer(pattern: re.Pattern[str], value: str, full: bool) -> tuple[str, str] | None:
    found = pattern.fullmatch(value) if full else pattern.match(value)
    return None if found is None else (found.group(1), found.group(2))


@settings(max_examples=3000, deadline=None, database=None)
@given(value=values, full=st.booleans())
@example(value="user@example.org", full=True)
@example(value="user@example.org\n", full=False)
@example(value="a.b@-x.org", full=True)
@example(value="a.b@x-.org", full=True)
@example(value="a..b@x.org", full=True)
@example(value=".a@x.org", full=True)
@example(value="a@" + "x" * 63 + ".org", full=True)
@example(value="a@" + "x" * 64 + ".org", full=True)
@example(value="a@x.o", full=True)
@example(value="a@x.org9", full=True)
def test_the_pattern_answers_as_its_plain_form(value: str, full: bool) -> None:
    assert answer(_PLAIN, value, full) == answer(PLAIN_FORM, value, full)
