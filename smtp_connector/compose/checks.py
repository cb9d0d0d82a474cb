"""Checks run when a connector is built, so template mistakes surface at load, not on a sign-up.

Every configured template is compiled (a syntax error is a `template_error` naming
`templates[i]`, the usage type/locale, the part and the line). Mistakes that still produce a
mail are warned about instead of refused: a usage type that looks like a misspelt known one
(custom types stay allowed), a code-bearing template that never shows `{{ code }}`, and a
template shadowed by an earlier one with the same usage type and locale.

Warnings go through Python's `warnings` (category `TemplateWarning`), the channel for "your
configuration looks wrong": shown once by default, filterable, and turned into errors in a
test suite (pytest: `filterwarnings = ["error::smtp_connector.TemplateWarning"]`). The
connector also keeps them as
`connector.template_warnings` so `smtp-connector verify` can report them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConnectorError, ErrorCode, TemplateWarning
from ..usage import CODELESS_USAGE_TYPES, KNOWN_USAGE_TYPES, suggest_usage_type
from .provider import template_from_details
from .rendering import Renderer
from .selection import normalize_locale
from .senders import Senders

if TYPE_CHECKING:
    from ..config import EmailTemplate
    from ..config.views import TemplateView

__all__ = ["CODELESS_USAGE_TYPES", "TemplateWarning", "check_one_template", "check_templates"]


def check_templates(
    templates: Sequence[TemplateView],
    renderer: Renderer,
    default_locale: str,
    senders: Senders,
    context: Mapping[str, Any],
    stacklevel: int = 3,
) -> list[str]:
    """Compile every template and its `sendFrom`/`replyTo` (raises `template_error`), then
    warn about likely mistakes, at the line `stacklevel` frames up (the caller's caller).

    Returns the warning texts, each already issued as a `TemplateWarning`.
    """
    for index, template in enumerate(templates):
        try:
            renderer.compile(template)
            senders.check(template, context)
        except ConnectorError as error:
            raise ConnectorError(
                ErrorCode.TEMPLATE_ERROR, f"templates[{index}]: {error.message}"
            ) from None
    found = [
        *_usage_type_findings(templates),
        *_code_findings(templates, renderer),
        *_shadow_findings(templates, default_locale),
    ]
    for text in found:
        warnings.warn(TemplateWarning(text), stacklevel=stacklevel)
    return found


def check_one_template(
    template: EmailTemplate | Mapping[str, Any],
    usage_type: str | None,
    locale: str | None,
    renderer: Renderer,
    senders: Senders,
    context: Mapping[str, Any],
) -> list[str]:
    """What `check_templates` does for the config's templates, for one template about to be
    stored (`SmtpConnector.check_template`): compile it, run it once in the sandbox so a bomb
    is refused (`template_error`), check its `sendFrom`/`replyTo`; return the warnings (not
    issued: the caller shows them to whoever is saving the template)."""
    from ..config import EmailTemplate  # here: a first send imports this module, not pydantic

    if not isinstance(template, EmailTemplate):
        if not usage_type and "usageType" not in template and "usage_type" not in template:
            raise ConnectorError(
                ErrorCode.TEMPLATE_ERROR,
                "Which usage type is this template for? Pass usage_type (e.g. 'SignIn') or "
                "give `usageType` in the template.",
            )
        template = template_from_details(template, usage_type or "", locale)
    elif usage_type and template.usage_type != usage_type:
        template = template.model_copy(update={"usage_type": usage_type})
    try:
        renderer.compile(template)
        renderer.check_limits([template], context)
        senders.check(template, context)
    except ConnectorError as error:
        error.message = error.message.removeprefix("templates[0]: ")
        error.args = (error.message,)
        raise
    found = [*_usage_type_findings([template]), *_code_findings([template], renderer)]
    return [text.replace("templates[0]", "this template", 1) for text in found]


def _usage_type_findings(templates: Sequence[TemplateView]) -> list[str]:
    found = []
    for index, template in enumerate(templates):
        suggestion = suggest_usage_type(template.usage_type)
        if suggestion is not None:
            found.append(
                f"templates[{index}]: usageType {template.usage_type!r} is not a known usage "
                f"type; did you mean {suggestion!r}? As written it is a custom type, and "
                f"{suggestion} mails fall back to another template."
            )
    return found


def _code_findings(templates: Sequence[TemplateView], renderer: Renderer) -> list[str]:
    found = []
    for index, template in enumerate(templates):
        usage = template.usage_type
        if usage not in KNOWN_USAGE_TYPES or usage in CODELESS_USAGE_TYPES:
            continue  # custom types may carry anything; invitations carry a link
        if "code" not in renderer.variables(template):
            found.append(
                f"templates[{index}] ({template.label}): no code placeholder in the subject or "
                f"body, so {usage} mails will not show the verification code; add {{{{code}}}} "
                "(or <<code>>)."
            )
    return found


def _shadow_findings(templates: Sequence[TemplateView], default_locale: str) -> list[str]:
    """A second template for the same (usage type, locale) is never chosen: the first wins."""
    first: dict[tuple[str, str], int] = {}
    found = []
    for index, template in enumerate(templates):
        key = (template.usage_type, normalize_locale(template.locale or default_locale))
        if key in first:
            found.append(
                f"templates[{index}] ({template.label}) is never used: templates[{first[key]}] "
                "has the same usage type and locale and comes first."
            )
        first.setdefault(key, index)
    return found
