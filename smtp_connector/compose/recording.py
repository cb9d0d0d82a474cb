"""The Jinja side of `requirements.py`'s payload check: the sandbox whose undefined value
records the names it prints, and what a template's syntax tree says about the names it reads.
Loaded by the first check, so a send that needs no Jinja does not load it."""

from __future__ import annotations

from contextvars import ContextVar

from jinja2 import ChainableUndefined, nodes
from jinja2.utils import missing as _MISSING

from .limits import RenderLimits
from .sandbox import LimitedSandbox

_DEFAULT_FILTERS = ("default", "d")
_PRESENCE_TESTS = ("defined", "undefined", "none")
printed_names: ContextVar[list[str] | None] = ContextVar("smtp_connector_printed", default=None)


class _Recording(ChainableUndefined):
    """Undefined that notes its name when printed (a top-level name only: an attribute missing
    on a value that was given is the value's business)."""

    __slots__ = ()

    def __str__(self) -> str:
        printed = printed_names.get()
        if printed is not None and self._undefined_obj is _MISSING and self._undefined_name:
            printed.append(self._undefined_name)
        return ""


def recording_sandbox(limits: RenderLimits) -> LimitedSandbox:
    """The bounded sandbox, text only, with the recording undefined value."""
    return LimitedSandbox(
        limits, autoescape=False, undefined=_Recording, keep_trailing_newline=True
    )


def printed_in(tree: nodes.Template) -> set[str]:
    return {
        name
        for output in tree.find_all(nodes.Output)
        for expression in output.nodes
        if not isinstance(expression, nodes.TemplateData)
        for name in _names(expression)
    }


def _names(node: nodes.Node) -> list[str]:
    """Names read in `node`, itself included (`find_all` looks only below it)."""
    found = [node, *node.find_all(nodes.Name)]
    return [n.name for n in found if isinstance(n, nodes.Name) and n.ctx == "load"]


def optional_names(tree: nodes.Template) -> set[str]:
    """Names with an explicit fallback: `x | default(…)`, `x is defined`, `{{ x or … }}`."""
    found = {
        node.node.name
        for node in tree.find_all(nodes.Filter)
        if node.name in _DEFAULT_FILTERS and isinstance(node.node, nodes.Name)
    }
    found |= {
        node.node.name
        for node in tree.find_all(nodes.Test)
        if node.name in _PRESENCE_TESTS and isinstance(node.node, nodes.Name)
    }
    for output in tree.find_all(nodes.Output):
        for either in output.find_all(nodes.Or):
            if isinstance(either.left, nodes.Name):
                found.add(either.left.name)
    return found


_CAPTURING = (nodes.Macro, nodes.CallBlock, nodes.AssignBlock, nodes.FilterBlock, nodes.Block)


def valued_names(tree: nodes.Template) -> set[str]:
    """Names whose value, beyond whether it is given, its type and its truth, may steer which
    undefined names a render prints: everything but a name printed as `{{ name }}` (outside a
    block whose output is captured: a `{% set %}` block, a macro, a call or filter block) or
    used for its truth or presence (`{% if name %}`, `a or b`, `not name`, `name is defined`,
    `name | default(…)`). `requirements.py` keys its verdicts on the values of these names and
    only the (type, truth) of the others, so this errs on the side of naming too many."""
    found: set[str] = set()
    _visit(tree, False, False, found)
    return found


def _visit(node: nodes.Node, state_only: bool, captured: bool, found: set[str]) -> None:
    """`state_only`: only the value's presence, type and truth reach the verdict from here."""
    if isinstance(node, nodes.Name):
        if node.ctx == "load" and not state_only:
            found.add(node.name)
    elif isinstance(node, nodes.Output):
        for printed in node.nodes:
            _visit(printed, not captured, captured, found)
    elif isinstance(node, nodes.If | nodes.CondExpr):
        _visit(node.test, True, captured, found)
        for branch in node.iter_child_nodes(exclude=("test",)):  # a CondExpr's result: one
            _visit(branch, state_only and isinstance(node, nodes.CondExpr), captured, found)
    elif isinstance(node, nodes.And | nodes.Or):  # the result is one operand, chosen by truth
        _visit(node.left, state_only, captured, found)
        _visit(node.right, state_only, captured, found)
    elif isinstance(node, nodes.Not) or (
        isinstance(node, nodes.Test)
        and node.name in _PRESENCE_TESTS
        and not (node.args or node.kwargs)
    ):
        _visit(node.node, True, captured, found)
    elif (
        isinstance(node, nodes.Filter)
        and node.name in _DEFAULT_FILTERS
        and node.node is not None
        and not (node.kwargs or node.dyn_args or node.dyn_kwargs)
        and len(node.args) <= 1
    ):  # the value itself or the fallback, chosen by presence
        _visit(node.node, state_only, captured, found)
        for arg in node.args:
            _visit(arg, state_only, captured, found)
    else:
        inner = captured or isinstance(node, _CAPTURING)
        for child in node.iter_child_nodes():
            _visit(child, False, inner, found)
