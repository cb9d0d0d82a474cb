"""A payload's shape, walked once: the keys and nesting the shape cache keys on, the string
values in order, and the size the payload check counts first.

The shape cache (`shapes.py`) keys a message on its context's *shape* (keys and nesting) and
fills in its values; the payload check (`payload.build_context`) first counts the characters
of the payload's keys and values to skip the exact measurement for a payload that is clearly
small. Both read every value, so `shaped_context` reads them once for both, and hands the
shape cache what it found (tests/compose/test_one_walk.py holds it to the two walks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .payload import normalise_context, require_mapping

OPEN, CLOSE = "\ue000", "\ue001"  # the shape cache's marks: private-use, no template uses them
Shape = tuple[Any, ...]
Walked = tuple[Shape, list[str]]  # a context's shape and its values, in order


def shape_of(context: Mapping[str, Any], values: list[str]) -> Shape | None:
    """The keys and nesting of `context`, its string values appended to `values` in order;
    None when a value is not a non-empty, mark-free string or a dict of them."""
    found = measured_shape(context, values, 0, None)
    return None if found is None else found[0]


def shaped_context(
    payload: Mapping[str, Any], max_bytes: int
) -> tuple[dict[str, Any], Walked | None]:
    """`build_context(payload, max_bytes)`, and beside it the context's shape and values for
    `pieces`, from one walk of the payload (`shaped_owned` on a copy of it)."""
    if type(payload) is not dict:
        require_mapping(payload)
    return shaped_owned(dict(payload), max_bytes)


def shaped_owned(context: dict[str, Any], max_bytes: int) -> tuple[dict[str, Any], Walked | None]:
    """`shaped_context` of a dict of the caller's own, made the context in place: the walk
    that finds the shape counts the characters the size check counts first
    (`payload.rough_size`), so a usual payload is read once, not twice. None beside the
    context when `pieces` is to walk it (a payload with no shape, nesting past the size
    check's depth, or one the checks may change: a link, a `code` not a str,
    `expires_in_minutes`)."""
    values: list[str] = []
    walked = measured_shape(context, values, 0)
    if walked is None:
        return normalise_context(context, max_bytes), None
    # What `normalise_context` may change after its size check: a `code` made text, a link
    # trimmed, an alias of `expires_in_minutes` added.
    code = context.get("code", "")
    changes = "link" in context or "expires_in_minutes" in context or type(code) is not str
    context = normalise_context(context, max_bytes, walked[1])
    return context, None if changes else (walked[0], values)


def measured_shape(
    context: Mapping[str, Any], values: list[str], depth: int, limit: int | None = 8
) -> tuple[Shape, int] | None:
    """`shape_of(context, values)` and `payload.rough_size(context)` in one walk; None when
    the shape is None or the size check would not count a nested mapping (deeper than
    `limit`, 8 as the size check's; None: any depth, for `shape_of` alone)."""
    shape: list[Any] = []
    size = 0
    for key, value in context.items():
        if type(key) is not str:
            return None
        if type(value) is str:
            if not value or OPEN in value or CLOSE in value:
                return None
            values.append(value)
            shape.append(key)
            size += len(key) + len(value)
        elif type(value) is dict and (limit is None or depth < limit):
            inner = measured_shape(value, values, depth + 1, limit)
            if inner is None:
                return None
            shape.append((key, inner[0]))
            size += len(key) + inner[1]
        else:
            return None
    return tuple(shape), size
