"""`shaped_context`: the payload walked once for the size check and the shape cache, held to the
two walks it replaces (`build_context`, then `shape_of` on the context): the same context or
the same error, the same shape and values, and the size the check counts first."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError
from smtp_connector.compose.payload import build_context, rough_size
from smtp_connector.compose.shape_walk import measured_shape, shape_of, shaped_context

_OPEN, _CLOSE = "\ue000", "\ue001"  # the shape cache's marks
_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "123456", f"a{_OPEN}b", f"a{_CLOSE}", "x" * 40]),
)
_link = st.sampled_from(
    ["https://example.com/a", " https://example.com/a ", "javascript:alert(1)", "", "http://"]
)
_leaf = st.one_of(_text, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False))
_keys = st.one_of(
    st.sampled_from(["code", "user", "name", "link", "expires_in_minutes", "expiresInMinutes"]),
    st.text(max_size=6),
)


def _nested(depth: int) -> dict[str, Any]:
    """A dict `depth` levels deep with one string at the bottom (the size check's depth)."""
    inner: dict[str, Any] = {"v": "x"}
    for _ in range(depth - 1):
        inner = {"d": inner}
    return inner


_payloads = st.recursive(
    st.dictionaries(_keys, _leaf, max_size=4),
    lambda inner: st.dictionaries(_keys, st.one_of(_leaf, inner, _link), max_size=4),
    max_leaves=12,
)


def _outcome(call: Any) -> Any:
    try:
        return call()
    except ConnectorError as error:
        return ("error", error.code, error.message)


def _two_walks(payload: Any, max_bytes: int) -> Any:
    def run() -> Any:
        context = build_context(payload, max_bytes)
        values: list[str] = []
        return context, shape_of(context, values), values

    return _outcome(run)


def _one_walk(payload: Any, max_bytes: int) -> Any:
    def run() -> Any:
        context, walked = shaped_context(payload, max_bytes)
        if walked is None:  # `pieces` walks the context itself
            values: list[str] = []
            return context, shape_of(context, values), values
        return context, walked[0], walked[1]

    return _outcome(run)


@settings(max_examples=400, deadline=None)
@given(
    payload=st.one_of(
        _payloads,
        st.integers(min_value=1, max_value=11).map(lambda d: {"code": "1", "deep": _nested(d)}),
    ),
    max_bytes=st.sampled_from([8, 40, 120, 400, 64 * 1024]),
)
@example(payload={"code": "1", "deep": _nested(8)}, max_bytes=64 * 1024)
@example(payload={"code": "1", "deep": _nested(9)}, max_bytes=64 * 1024)
@example(payload={"code": "123456", "name": "x" * 40}, max_bytes=200)
@example(payload={"code": "1", "link": " https://example.com/a "}, max_bytes=64 * 1024)
@example(payload={"code": "1", "expires_in_minutes": "10"}, max_bytes=64 * 1024)
@example(payload={"code": "1", "user": {"name": f"a{_CLOSE}"}}, max_bytes=64 * 1024)
def test_one_walk_gives_what_two_walks_give(payload: dict[str, Any], max_bytes: int) -> None:
    assert _one_walk(payload, max_bytes) == _two_walks(payload, max_bytes)
    walked = measured_shape(dict(payload), [], 0)
    if walked is not None:  # what the walk counted is what the size check counts
        assert walked[1] == rough_size(payload)


def test_a_payload_that_is_not_a_mapping_is_refused_before_any_walk() -> None:
    """A list of pairs would make a dict: refused as the two walks refuse it."""
    pairs = [("code", "1")]
    assert _one_walk(pairs, 1024) == _two_walks(pairs, 1024)
    assert _one_walk(pairs, 1024)[0] == "error"
