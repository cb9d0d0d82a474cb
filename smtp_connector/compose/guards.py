"""Checks the sandbox runs before an operator, a str method or a filter does its work.

Each asks: could the result pass the value limits (characters, items, integer size)? The answer
comes from the operands' sizes, before anything is allocated; see `sandbox.py` for where they
are hooked in and `limits.py` for the limits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .limits import (
    MAX_ITEMS,
    RenderLimits,
    TemplateLimitError,
    check_printf,
    check_result,
    estimated_chars,
    require_chars,
    require_count,
    require_int_bits,
    tick,
)

_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def check_binop(operator: str, left: Any, right: Any, limits: RenderLimits) -> None:
    """Refuse `left <operator> right` before computing it when the result would be too big."""
    if operator == "*":
        _check_repeat(left, right, limits)
        _check_repeat(right, left, limits)
        if _is_int(left) and _is_int(right):
            require_int_bits(left.bit_length() + right.bit_length())
    elif operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            require_chars([left, right], limits, "a + result")
            if isinstance(left, list | tuple) and isinstance(right, list | tuple):
                require_count(len(left) + len(right), MAX_ITEMS, "items in a list")
    elif operator == "%" and isinstance(left, str):
        check_printf(left, right, limits)
    elif operator == "**" and _is_int(left) and _is_int(right) and right > 0:
        require_int_bits(right * max(left.bit_length() - 1, 0))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_repeat(sequence: Any, times: Any, limits: RenderLimits) -> None:
    """`sequence * times` for str/bytes/list/tuple: size (and item count) of the result."""
    if not isinstance(sequence, str | bytes | list | tuple) or not _is_int(times) or times <= 1:
        return
    if isinstance(sequence, list | tuple):
        require_count(len(sequence) * times, MAX_ITEMS, "items in a repeated list")
    size = estimated_chars(sequence, limits.max_chars)
    if size * times > limits.max_chars:
        raise TemplateLimitError(
            f"a repetition of {size:,} characters × {times:,} is over "
            f"{limits.max_chars:,} characters"
        )


def check_method_call(
    obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], limits: RenderLimits
) -> None:
    """Calls of str/bytes methods whose result can be much bigger than their input."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str | bytes):
        return
    arguments = [*args, *kwargs.values()]
    if name in _PADDING_METHODS and arguments and _is_int(arguments[0]):
        _require_width(arguments[0], limits)
    elif name == "expandtabs":
        size = arguments[0] if arguments and _is_int(arguments[0]) else 8
        _require_total(len(owner) * max(size, 1), limits, "expandtabs")
    elif name == "replace" and len(arguments) >= 2:
        _check_replace(owner, arguments[0], arguments[1], None, limits)
    elif name == "join" and arguments:
        require_chars([owner, arguments[0]], limits, "a joined string")
        items = arguments[0]
        if isinstance(items, list | tuple):
            _require_total(len(owner) * len(items), limits, "join separators")
    elif name == "translate" and arguments and isinstance(arguments[0], Mapping):
        longest = max(
            (estimated_chars(v, limits.max_chars) for v in arguments[0].values()), default=1
        )
        _require_total(len(owner) * max(longest, 1), limits, "translate")


def _require_width(width: Any, limits: RenderLimits) -> None:
    if _is_int(width) and width > limits.max_chars:
        raise TemplateLimitError(f"a padding width of {width:,} (limit {limits.max_chars:,})")


def _require_total(size: int, limits: RenderLimits, what: str) -> None:
    if size > limits.max_chars:
        raise TemplateLimitError(
            f"{what} would make {size:,} characters (limit {limits.max_chars:,})"
        )


def _check_replace(text: Any, old: Any, new: Any, count: Any, limits: RenderLimits) -> None:
    if not isinstance(text, str | bytes):
        require_chars(text, limits, "the text to replace in")
        text = str(text)
    old_text, new_text = str(old), str(new)
    hits = len(text) + 1 if not old_text else text.count(old_text)
    if _is_int(count) and count >= 0:
        hits = min(hits, count)
    _require_total(len(text) + hits * len(new_text), limits, "replace")


# --- filters --------------------------------------------------------------------------------


def guarded_filter(
    func: Callable[..., Any], check: Callable[..., None] | None, limits: RenderLimits
) -> Callable[..., Any]:
    """`func` with its pre-check (if any), a budget tick, and the result check. The wrapper
    keeps Jinja's pass-context/environment marker, so it is called exactly as `func` is."""
    first = 1 if hasattr(func, "jinja_pass_arg") else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        tick()
        if check is not None:
            if check in _MATERIALIZING and len(args) > first:
                args = (*args[:first], _materialized(args[first]), *args[first + 1 :])
            check(limits, *args[first:], **kwargs)
        return check_result(func(*args, **kwargs), limits)

    return guarded


def _materialized(value: Any) -> Any:
    """A lazy iterable (map, select, a generator) as a list, so its items can be measured
    before a filter joins or sums them; at most `MAX_ITEMS` are taken."""
    if isinstance(value, str | bytes | list | tuple | Mapping) or not isinstance(value, Iterable):
        return value
    items = []
    for item in value:
        tick()
        items.append(item)
        require_count(len(items), MAX_ITEMS, "items in a list")
    return items


def _check_center(limits: RenderLimits, value: Any, width: Any = 80) -> None:
    _require_width(width, limits)


def _check_indent(limits: RenderLimits, text: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    require_chars(text, limits, "the text to indent")
    per_line = len(width) if isinstance(width, str) else (width if _is_int(width) else 0)
    lines = str(text).count("\n") + 1
    _require_total(len(str(text)) + lines * max(per_line, 0), limits, "indent")


def _check_format(limits: RenderLimits, value: Any, *args: Any, **kwargs: Any) -> None:
    check_printf(str(value), kwargs or args, limits)


def _check_replace_filter(
    limits: RenderLimits, text: Any, old: Any, new: Any, count: Any = None
) -> None:
    _check_replace(text, old, new, count, limits)


def _check_join(limits: RenderLimits, value: Any, d: Any = "", attribute: Any = None) -> None:
    if isinstance(value, list | tuple):
        require_chars(value, limits, "a joined list")
        _require_total(len(str(d)) * len(value), limits, "join separators")
    else:
        require_chars(value, limits, "a joined value")


def _check_wordwrap(
    limits: RenderLimits,
    text: Any,
    width: Any = 79,
    break_long: Any = True,
    wrap: Any = None,
    *_: Any,
) -> None:
    require_chars(text, limits, "the text to wrap")
    breaks = len(str(text)) // max(width if _is_int(width) else 1, 1) + 1
    _require_total(len(str(text)) + breaks * len(str(wrap or "\n")), limits, "wordwrap")


def _check_count_arg(limits: RenderLimits, value: Any, count: Any, *_: Any, **__: Any) -> None:
    if _is_int(count):
        require_count(count, MAX_ITEMS, "batch or slice count")


def _check_printed(limits: RenderLimits, value: Any, *_: Any, **__: Any) -> None:
    require_chars(value, limits, "the value to print")


def _check_sum(limits: RenderLimits, iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    """Summing lists concatenates them (quadratic, in C, beyond the clock's reach): bound the
    items first. Numbers are bounded by the integer limit on `*`/`**` that made them."""
    if isinstance(iterable, list | tuple):
        nested = [item for item in iterable if isinstance(item, list | tuple)]
        require_count(sum(len(item) for item in nested), MAX_ITEMS, "items in a sum")
        require_chars(nested, limits, "a summed list")


_MATERIALIZING = frozenset({_check_join, _check_sum})
FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _check_center,
    "indent": _check_indent,
    "format": _check_format,
    "replace": _check_replace_filter,
    "join": _check_join,
    "wordwrap": _check_wordwrap,
    "batch": _check_count_arg,
    "slice": _check_count_arg,
    "sum": _check_sum,
    **{
        name: _check_printed
        for name in (
            "string",
            "tojson",
            "pprint",
            "xmlattr",
            "urlencode",
            "escape",
            "e",
            "forceescape",
            "list",
        )
    },
}
