"""The shape cache's memo of the last shape (`ShapeCache._last`): a lookup of the same shape
again neither hashes nor moves it, and the LRU keeps the order, evictions and counters the
lookups without the memo keep; `forget` and a new shape reset it."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import SmtpConnector
from smtp_connector.compose.shape_walk import measured_shape


def _walked(context: dict[str, Any]) -> tuple[Any, list[str], int] | None:
    values: list[str] = []
    found = measured_shape(context, values, 0)
    return None if found is None else (found[0], values, found[1])


_PAYLOADS = [
    {"code": "1"},
    {"code": "1", "application": {"name": "A"}},
    {"code": "1", "user": {"name": "B"}},
    {"code": "1", "link": "https://example.com/x"},  # walked each time (a link): no memo
    {"code": "1", "user": {"name": "B"}, "x": "y"},
]


@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.sampled_from(["SignIn", "Register"]), st.integers(0, len(_PAYLOADS) - 1)),
        min_size=1,
        max_size=30,
    )
)
def test_the_last_shape_memo_keeps_the_lru(picks: list[tuple[str, int]], compose_path: str) -> None:
    """With room for 2 shapes, a sequence of sends (two templates, shapes they share) keeps
    the shapes an LRU without the memo would (order and evictions), counts the same hits and
    misses, and renders what the full path renders."""
    if compose_path == "full":
        return  # no shape cache on that path (tests/compose/conftest.py)
    connector = SmtpConnector({"host": "127.0.0.1", "fromEmail": "a@example.com"})
    shapes = connector._renderer.shapes
    assert shapes is not None
    shapes._maxsize = 2
    model: OrderedDict[Any, None] = OrderedDict()
    hits = misses = 0
    for usage, pick in picks:
        payload = _PAYLOADS[pick]
        email = connector.render(usage, payload, "en")
        context = connector._context(payload, "en")
        shape = _walked(context)
        assert shape is not None
        key = (id(connector._selector.choose(usage, "en").template), shape[0])
        if key in model:
            model.move_to_end(key)
            hits += 1
        else:
            model[key] = None
            misses += 1
            while len(model) > 2:
                model.popitem(last=False)
        assert list(shapes._shapes) == list(model)
        assert email.subject == _full(connector, usage, payload).subject
    info = shapes.cache_info()
    assert (info["hits"], info["misses"]) == (hits, misses)


def _full(connector: SmtpConnector, usage: str, payload: dict[str, Any]) -> Any:
    """The same render with the shape cache turned off for it."""
    shapes, connector._renderer.shapes = connector._renderer.shapes, None
    try:
        return connector.render(usage, payload, "en")
    finally:
        connector._renderer.shapes = shapes


def test_forget_and_a_new_shape_reset_the_memo(compose_path: str) -> None:
    if compose_path == "full":
        return
    connector = SmtpConnector({"host": "127.0.0.1", "fromEmail": "a@example.com"})
    shapes = connector._renderer.shapes
    assert shapes is not None
    connector.render("SignIn", {"code": "1"}, "en")
    assert shapes._last is not None
    template = shapes._last[1]
    shapes.forget([template])
    assert shapes._last is None and not shapes._shapes
    connector.render("SignIn", {"code": "2"}, "en")  # composed again, not taken from the memo
    assert shapes.cache_info()["misses"] == 2 and len(shapes._shapes) == 1
    assert shapes._last is not None and shapes._last[2] is next(iter(shapes._shapes.values()))
