"""The package's module-level `LazyPattern`s (regular expressions a first send never uses,
compiled on first use) answer every method as the pattern `re.compile` gives."""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import smtp_connector
from smtp_connector.lazy import LazyPattern

LIBRARY = [
    "smtp_connector.addresses", "smtp_connector.errors", "smtp_connector.usage",
    "smtp_connector.compose.headers", "smtp_connector.compose.html_text",
    "smtp_connector.compose.limits", "smtp_connector.config.headers",
    "smtp_connector.config.templates", "smtp_connector.delivery.network",
]  # fmt: skip


def _lazy_patterns() -> dict[str, LazyPattern]:
    found: dict[str, LazyPattern] = {}
    names = [m.name for m in pkgutil.walk_packages(smtp_connector.__path__, "smtp_connector.")]
    for name in sorted(set(names) & set(LIBRARY)):
        module = importlib.import_module(name)
        for key, value in vars(module).items():
            if isinstance(value, LazyPattern):
                found[f"{name}.{key}"] = value
    return found


PATTERNS = _lazy_patterns()
# Text close to what the patterns read: headers, statuses, markup, printf formats, and any.
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="%()sd0-9.# <>/\n\r\t=:'\"abcXYZ-_{}@;\x7f\u2028", max_size=40),
    st.sampled_from(["5.1.1 bad", "%(a)5.2f", '<p style="display:none">x</p>', "a\n\n\nb"]),
)


def test_the_library_has_its_lazy_patterns() -> None:
    assert len(PATTERNS) >= 12


@pytest.mark.parametrize("name", sorted(PATTERNS))
@given(text=TEXT)
def test_a_lazy_pattern_answers_as_the_compiled_one(name: str, text: str) -> None:
    lazy = PATTERNS[name]
    compiled = re.compile(*lazy._source)

    def same(method: str, *args: Any) -> None:
        ours, theirs = getattr(lazy, method)(*args), getattr(compiled, method)(*args)
        if isinstance(theirs, re.Match) or theirs is None:
            assert (ours and (ours.span(), ours.groups())) == (
                theirs and (theirs.span(), theirs.groups())
            )
        else:
            assert ours == theirs

    for method in ("match", "search", "fullmatch"):
        same(method, text)
    same("findall", text)
    same("split", text)
    same("sub", "#", text)
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in compiled.finditer(text)]
    assert (lazy.pattern, lazy.flags, lazy.groups) == (
        compiled.pattern,
        compiled.flags,
        compiled.groups,
    )


def test_a_lazy_pattern_compiles_on_first_use_only() -> None:
    lazy = LazyPattern(r"a+")
    assert not lazy.compiled
    assert lazy.sub("b", "caat") == "cbt"
    assert lazy.compiled and lazy.sub.__self__ is re.compile(r"a+")  # kept: no second lookup
    with pytest.raises(AttributeError):
        lazy.__deepcopy__  # noqa: B018 - a special name is not asked of the pattern
