"""The template sandbox: Jinja's immutable sandbox plus limits on size, count and time.

Where a template can make something big or slow, a check (`guards.py`, on the limits of
`limits.py`) runs first:
- operators `*`, `+`, `%`, `**` (intercepted by the sandbox) check the size of their result;
- calls to str methods that pad or multiply (`center`, `ljust`, `zfill`, `replace`, `join`,
  `expandtabs`, `translate`) and `str.format` (widths and every field) are checked;
- filters that pad, join or repeat (`center`, `indent`, `format`, `replace`, `join`, `wordwrap`,
  `batch`, `slice`, `sum`, and those that print a whole value) check their input; every filter
  and call result is checked against the value limits;
- `range` and `lipsum` are bounded; every `{% for %}` iterates through a counting guard and
  every `~` concatenation through a size check (both inserted when the template is parsed);
- `{{ value }}` output is checked before it is turned into text.
Each hook also charges the render's budget, which enforces the loop and time limits.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import ChainableUndefined, nodes
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
    SecurityError,
)
from jinja2.utils import generate_lorem_ipsum, pass_eval_context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from .guards import FILTER_CHECKS, check_binop, check_method_call, guarded_filter
from .limits import (
    LIPSUM_MAX_PARAGRAPHS,
    MAX_ITEMS,
    RenderLimits,
    TemplateLimitError,
    check_format_spec,
    check_output,
    check_result,
    require_chars,
    require_count,
    step,
    tick,
)

# Internal filter names hold a space, so no template can name (or shadow) them.
LOOP_GUARD = "sandbox loop"
CONCAT_GUARD = "sandbox concat"


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """`ImmutableSandboxedEnvironment` that refuses work over `limits` (see module doc)."""

    intercepted_binops = frozenset({"*", "+", "%", "**"})

    def __init__(self, limits: RenderLimits, **options: Any) -> None:
        super().__init__(finalize=self._finalize, **options)
        self.limits = limits
        self.globals["range"] = self._range
        self.globals["lipsum"] = self._lipsum
        for name, func in list(self.filters.items()):
            self.filters[name] = guarded_filter(func, FILTER_CHECKS.get(name), limits)
        self.filters[LOOP_GUARD] = _loop_guard
        self.filters[CONCAT_GUARD] = pass_eval_context(functools.partial(_concat, limits))

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _GuardInserter().visit(super()._parse(source, name, filename))
        assert isinstance(tree, nodes.Template)
        return tree

    def _finalize(self, value: Any) -> Any:
        """Every `{{ value }}` before it is turned into text (`limits.check_output`)."""
        return check_output(value, self.limits)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        tick()
        check_binop(operator, left, right, self.limits)
        return check_result(super().call_binop(context, operator, left, right), self.limits)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        check_method_call(__obj, args, kwargs, __self.limits)
        return check_result(super().call(__context, __obj, *args, **kwargs), __self.limits)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed `str.format`/`format_map`, with a formatter that checks widths
        and the size of every field as it is written."""
        if not isinstance(
            value, types.MethodType | types.BuiltinMethodType
        ) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        text = value.__self__
        if not isinstance(text, str):
            return None
        formatter: _LimitedFormatter | _LimitedEscapeFormatter
        if isinstance(text, Markup):
            formatter = _LimitedEscapeFormatter(self, escape=text.escape)
        else:
            formatter = _LimitedFormatter(self)
        is_map = value.__name__ == "format_map"

        def formatted(*args: Any, **kwargs: Any) -> str:
            if not is_map:
                return type(text)(formatter.vformat(text, args, kwargs))
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one mapping argument")
            return type(text)(formatter.vformat(text, (), args[0]))

        return functools.update_wrapper(formatted, value)

    def _range(self, *args: int) -> range:
        tick()
        numbers = range(*args)
        require_count(len(numbers), MAX_ITEMS, "range length")
        return numbers

    def _lipsum(self, n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        """Jinja's `lipsum` (same parameter names), with paragraphs and words bounded."""
        tick()
        require_count(n, LIPSUM_MAX_PARAGRAPHS, "lipsum paragraphs")
        require_count(n * (max if max > min else min), MAX_ITEMS, "lipsum words")
        return generate_lorem_ipsum(n, html, min, max)


class _GuardInserter(NodeTransformer):
    """Routes every loop's iterable through `LOOP_GUARD` and every `~` through `CONCAT_GUARD`."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter_node(node.iter, LOOP_GUARD)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        pieces = nodes.List(list(node.nodes), lineno=node.lineno)
        return _filter_node(pieces, CONCAT_GUARD)


def _filter_node(node: nodes.Node, name: str) -> nodes.Filter:
    assert isinstance(node, nodes.Expr)
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """Count each iteration against the render's loop and time budget."""
    for item in iterable:
        step()
        yield item


def _concat(limits: RenderLimits, eval_ctx: EvalContext, pieces: list[Any]) -> str:
    """`a ~ b ~ c` as Jinja does it (escaping under autoescape), after a size check."""
    tick()
    require_chars(pieces, limits, "a ~ concatenation")
    return markup_join(pieces) if eval_ctx.autoescape else str_join(pieces)


class _LimitMixin:
    """Checks each replacement field of `str.format` before and after it is formatted."""

    _env: Any  # the LimitedSandbox, set by SandboxedFormatter.__init__
    _written = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        limits = self._env.limits
        tick()
        check_format_spec(format_spec, limits)
        require_chars(value, limits, "a format field")
        text = super().format_field(value, format_spec)  # type: ignore[misc]
        self._written += len(text)
        if self._written > limits.max_chars:
            raise TemplateLimitError(f"a formatted string over {limits.max_chars:,} characters")
        return text

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        require_chars(value, self._env.limits, "a format field")
        return super().convert_field(value, conversion)  # type: ignore[misc]

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._written = 0
        return super().vformat(format_string, args, kwargs)  # type: ignore[misc]


class _LimitedFormatter(_LimitMixin, SandboxedFormatter):
    pass


class _LimitedEscapeFormatter(_LimitMixin, SandboxedEscapeFormatter):
    pass


class StrictSandbox(LimitedSandbox):
    """The bounded sandbox where a blocked attribute is an error rather than an empty string,
    so an escape attempt in a template is reported instead of rendering nothing."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} is unsafe"
        )


def strict_sandbox(limits: RenderLimits, autoescape: bool) -> StrictSandbox:
    """The renderer's environment (text: no escaping; HTML: autoescape)."""
    return StrictSandbox(
        limits, autoescape=autoescape, undefined=ChainableUndefined, keep_trailing_newline=True
    )


# What a template may contain for its shape to be cached (compose/shapes.py): printing,
# presence tests, assignment.
_PRINT_ONLY_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.Name,
    nodes.Getattr,
    nodes.If,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Assign,
    nodes.AssignBlock,
    nodes.Scope,
    nodes.ScopedEvalContextModifier,
    nodes.EvalContextModifier,
    nodes.Keyword,
)
# Tests and filters that look at a value's type or presence only (types are part of the shape).
_TYPE_TESTS = frozenset(
    {"defined", "undefined", "none", "string", "mapping", "number", "boolean", "sequence"}
)
_PRESENCE_FILTERS = frozenset({"default", "d"})


def print_only(ast: nodes.Template) -> bool:
    """True when the template does nothing with a value but print or presence-test it."""
    for node in ast.find_all(nodes.Node):
        if isinstance(node, nodes.Test):
            if node.name not in _TYPE_TESTS or node.args or node.kwargs:
                return False
        elif isinstance(node, nodes.Filter):
            if node.name not in _PRESENCE_FILTERS:
                return False
        elif not isinstance(node, _PRINT_ONLY_NODES):
            return False
    return True
