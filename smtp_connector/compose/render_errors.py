"""The renderer's errors: each a `template_error` that names the template, its part and line,
and says whether a sandbox limit (rather than a value) stopped it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConnectorError, ErrorCode

if TYPE_CHECKING:
    from jinja2 import TemplateSyntaxError

    from ..config.views import TemplateView


_LIMIT_DETAIL = "sandbox_limit"


def is_limit_error(error: ConnectorError) -> bool:
    """True for a `template_error` raised by one of the sandbox's limits (not by a value)."""
    return error.details == _LIMIT_DETAIL


def limit_error(template: TemplateView, exc: BaseException) -> ConnectorError:
    """A limit the template ran into, named, with the config knob when there is one."""
    why = "recursion too deep (a macro calling itself?)" if isinstance(exc, RecursionError) else exc
    return ConnectorError(
        ErrorCode.TEMPLATE_ERROR,
        f"Cannot render template {template.label!r}: stopped by the sandbox's limits: {why}",
        details=_LIMIT_DETAIL,
    )


def too_deep(template: TemplateView, part: str) -> ConnectorError:
    error = template_error(
        template, part, "nested too deeply to be compiled (blocks inside blocks hundreds deep)"
    )
    error.details = _LIMIT_DETAIL
    return error


def template_error(
    template: TemplateView, part: str, why: str, line: int | None = None
) -> ConnectorError:
    where = f"template {template.label!r} ({part}"
    where += f", line {line})" if line else ")"
    return ConnectorError(ErrorCode.TEMPLATE_ERROR, f"Cannot render {where}: {why}")


def syntax_error(template: TemplateView, part: str, exc: TemplateSyntaxError) -> ConnectorError:
    where = f"template {template.label!r} ({part} part"
    where += f", line {exc.lineno})" if exc.lineno and part != "all parts" else ")"
    return ConnectorError(
        ErrorCode.TEMPLATE_ERROR, f"Syntax error in {where}: {exc.message or exc}"
    )
