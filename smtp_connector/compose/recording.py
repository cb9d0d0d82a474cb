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


def compared(tree: nodes.Template) -> set[str]:
    """Names whose value (not only whether it is given) decides something: compared, tested
    (other than for presence) or used as an index."""
    found: set[str] = set()
    for node in tree.find_all((nodes.Compare, nodes.Test, nodes.Getitem)):
        if isinstance(node, nodes.Test) and node.name in _PRESENCE_TESTS:
            continue
        found |= set(_names(node))
    return found
