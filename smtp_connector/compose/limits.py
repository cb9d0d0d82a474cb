"""Bounds on what one template render may cost: value sizes, item counts, loop iterations, time.

Jinja's sandbox stops a template from reaching Python internals, but not from asking for a
gigabyte (`'a' * 10**9`, `|center(10**9)`, `'%*d' % (10**9, 1)`) or for minutes of work (nested
`range` loops, `lipsum(10**6)`). Templates come from admin consoles, so these are denial of
service: one bad template would block the event loop of every send. The sandbox in `sandbox.py`
asks the checks here *before* an operation allocates, and a per-render `RenderBudget` counts
loop iterations and watches the clock. Every refusal is a `TemplateLimitError`, which the
renderer reports as `template_error` naming the template.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

from ..lazy import LazyPattern

MAX_ITEMS = 100_000  # a list, a range, lipsum words, batch/slice counts
MAX_LOOP_ITERATIONS = 1_000_000  # all `{% for %}` iterations of one render together
MAX_INT_BITS = 16_384  # ~4,900 digits; Python will not even print an int over 4,300 digits
LIPSUM_MAX_PARAGRAPHS = 100
_CLOCK_EVERY = 64  # check the time every this many ticks (time.monotonic is not free)


class TemplateLimitError(Exception):
    """A template asked for more than the sandbox allows; the message says which limit."""


class RenderLimits:
    """The knobs from the config: the largest value (and rendered part) in characters, and the
    longest a render may run, in seconds. Read-only (`Final`, checked by mypy). A plain class:
    declaring a frozen dataclass execs six generated methods at import, a cost every process
    that sends pays (docs/performance.md, cold start), for equality nothing here uses."""

    __slots__ = ("max_chars", "timeout")

    def __init__(self, max_chars: int = 1024 * 1024, timeout: float = 1.0) -> None:
        self.max_chars: Final = max_chars
        self.timeout: Final = timeout


class RenderBudget:
    """What one render may still spend: loop iterations and time (a deadline)."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.timeout
        self.iterations = 0
        self._ticks = 0
        self.watch: Callable[[str], None] | None = None  # sees every output string (see below)

    def tick(self) -> None:
        """Called on every call, filter, operator and loop step; checks the clock now and then."""
        self._ticks += 1
        if self._ticks % _CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
            raise TemplateLimitError(
                f"rendering took longer than {self.limits.timeout * 1000:.0f} ms (`renderTimeout`)"
            )

    def step(self) -> None:
        """One loop iteration."""
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise TemplateLimitError(
                f"more than {MAX_LOOP_ITERATIONS:,} loop iterations in one render"
            )
        self.tick()


_BUDGET: ContextVar[RenderBudget | None] = ContextVar("render_budget", default=None)


@contextmanager
def render_budget(limits: RenderLimits) -> Iterator[RenderBudget]:
    """Run one render under a fresh budget (sandbox hooks find it through a context variable,
    as Jinja gives them no other way to reach per-render state)."""
    budget = RenderBudget(limits)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


_WATCHERS = 0  # renders with a watcher running now: the common case skips the lookup
_WATCHERS_LOCK = threading.Lock()


@contextmanager
def watching(budget: RenderBudget, watch: Callable[[str], None]) -> Iterator[None]:
    """Show `watch` every string the sandbox measures as output during this render (the shape
    cache learns from its placeholder render how large any such string can grow)."""
    global _WATCHERS
    budget.watch = watch
    with _WATCHERS_LOCK:  # renders on other threads (send_sync) must not lose a count
        _WATCHERS += 1
    try:
        yield
    finally:
        with _WATCHERS_LOCK:
            _WATCHERS -= 1
        budget.watch = None


def watch_output(value: str) -> None:
    if _WATCHERS:
        budget = _BUDGET.get()
        if budget is not None and budget.watch is not None:
            budget.watch(value)


def tick() -> None:
    """Charge one operation to the running render, if any (compile-time folding has none)."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()


def step() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.step()


def estimated_chars(value: Any, stop_after: int) -> int:
    """About `len(str(value))` without building it, stopping as soon as it passes `stop_after`
    (so the work is bounded too). Containers count their items: a list holding the same 1 MB
    string 100,000 times is 100 GB once printed, joined or compared."""
    total, stack = 0, [value]
    while stack and total <= stop_after:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bytes | bytearray):
            total += 4 * len(item)  # repr escapes
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, Mapping):
            total += 4 * len(item) + 2
            if total <= stop_after:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 * len(item) + 2
            if total <= stop_after:
                stack.extend(item)
        elif _is_namespace(item):
            stack.append(object.__getattribute__(item, "_Namespace__attrs"))
        else:
            total += 32  # numbers, undefined, loop and macro objects: short reprs
    return total


def _is_namespace(item: Any) -> bool:
    """A Jinja `namespace()` object: one exists only once Jinja is loaded, so this module (on
    the path of a send that needs no Jinja) does not import it."""
    utils = sys.modules.get("jinja2.utils")
    return utils is not None and isinstance(item, utils.Namespace)


def check_output(value: Any, limits: RenderLimits) -> Any:
    """Every printed value (`{{ value }}`) before it is turned into text, in Jinja's sandbox
    and in the Jinja-free renderer alike: strings, the usual case, are measured directly;
    containers would be printed whole and are estimated first."""
    if isinstance(value, str):
        if len(value) > limits.max_chars:
            raise TemplateLimitError(f"an output value of {len(value):,} characters")
        watch_output(value)
        return value
    if value is None or isinstance(value, int | float):  # bounded by the int limit
        return value
    tick()
    require_chars(value, limits, "an output value")
    return value


def require_chars(value: Any, limits: RenderLimits, what: str = "a value") -> None:
    """Refuse `value` when its text would be over the value limit."""
    if estimated_chars(value, limits.max_chars) > limits.max_chars:
        raise TemplateLimitError(f"{what} would be over {limits.max_chars:,} characters")


def require_count(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise TemplateLimitError(f"{what} ({count:,}) is over the limit of {limit:,}")


def require_int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimitError(f"an integer of about {bits:,} bits (limit {MAX_INT_BITS:,})")


def check_result(value: Any, limits: RenderLimits) -> Any:
    """Pass `value` through if it is within the value limits (strings by length, containers by
    their items), else refuse it."""
    if isinstance(value, str | bytes):
        if len(value) > limits.max_chars:
            raise TemplateLimitError(f"a string of {len(value):,} characters")
    elif isinstance(value, list | tuple | dict | set | frozenset):
        require_count(len(value), MAX_ITEMS, "items in a list")
        require_chars(value, limits, "a list")
    return value


# printf-style conversions: %[(key)][flags][width][.precision][length]type
_PRINTF = LazyPattern(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?"
    r"[hlL]?(?P<type>[diouxXeEfFgGcrsa%])"
)
_SPEC_NUMBER = LazyPattern(r"\d+")


def check_printf(fmt: str, args: Any, limits: RenderLimits) -> None:
    """Refuse `fmt % args` when its result could pass the value limit: each conversion writes
    at most max(width, precision, its value's text)."""
    positional = list(args) if isinstance(args, tuple) else [args]
    total, index = len(fmt), 0

    def take() -> Any:
        nonlocal index
        index += 1
        return positional[index - 1] if index - 1 < len(positional) else 0

    for match in _PRINTF.finditer(fmt):
        if match["type"] == "%":
            continue
        sizes = [_spec_number(match["width"], take), _spec_number(match["precision"], take)]
        if match["key"] is not None and isinstance(args, Mapping):
            value = args.get(match["key"], "")
        else:
            value = take()
        sizes.append(estimated_chars(value, limits.max_chars))
        total += max(sizes)
        if total > limits.max_chars:
            raise TemplateLimitError(
                f"a %-formatted string would be over {limits.max_chars:,} characters"
            )


def _spec_number(text: str | None, take: Any) -> int:
    if not text:
        return 0
    value = take() if text == "*" else (int(text) if len(text) <= 9 else 10**9)
    return abs(value) if isinstance(value, int) else 0


def check_format_spec(spec: str, limits: RenderLimits) -> None:
    """`str.format` widths and precisions (after nested fields are filled in)."""
    for number in _SPEC_NUMBER.findall(spec):
        if len(number) > 9 or int(number) > limits.max_chars:
            raise TemplateLimitError(
                f"a format width or precision of {number} (limit {limits.max_chars:,})"
            )
