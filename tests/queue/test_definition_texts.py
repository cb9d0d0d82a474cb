"""The JSON text of a queued row's definition ids is remembered by the ids
(`sqlite_outbox._definitions_text`, issue 26 §1): every send of an app carries the same ids.
It must be `json.dumps`'s text for every value the column may be given — lists of any strings,
str subclasses (which could compare equal to another string), tuples and other values, which
are written each time — and stay bounded whatever ids callers' apps have."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector.queue import sqlite_outbox
from smtp_connector.queue.sqlite_outbox import (
    _DEFINITION_TEXTS,
    _DEFINITIONS_KEPT,
    _definitions_text,
)

IDS = st.lists(st.text(max_size=40) | st.sampled_from(["d1", "d2", "é", 'a"b', "a\\b"]), max_size=4)


@settings(max_examples=400, deadline=None)
@given(st.lists(IDS, min_size=1, max_size=6))
def test_remembered_text_is_json_dumps(batches: list[list[str]]) -> None:
    for ids in batches + batches:  # each list twice: written, then remembered
        assert _definitions_text(list(ids)) == json.dumps(ids)


class Loud(str):
    """Equal to (and hashed as) "d1", whatever it holds: it must not be served "d1"'s text."""

    def __eq__(self, other: object) -> bool:
        return other == "d1" or str.__eq__(self, other)

    def __hash__(self) -> int:
        return hash("d1")


def test_a_str_subclass_is_written_not_looked_up() -> None:
    assert _definitions_text(["d1"]) == '["d1"]'  # now remembered
    assert _definitions_text([Loud("d9")]) == json.dumps([Loud("d9")]) == '["d9"]'


@given(st.one_of(st.tuples(st.text(max_size=5)), st.none(), st.lists(st.integers(), max_size=3)))
def test_other_values_are_json_dumps(value: Any) -> None:
    assert _definitions_text(value) == json.dumps(value)


def test_bounded_against_many_distinct_ids() -> None:
    for i in range(3 * _DEFINITIONS_KEPT):
        assert _definitions_text([f"app-{i}", "x" * 100]) == json.dumps([f"app-{i}", "x" * 100])
        assert len(_DEFINITION_TEXTS) <= _DEFINITIONS_KEPT
    assert sqlite_outbox._DEFINITION_TEXTS is _DEFINITION_TEXTS  # cleared in place, not replaced
