"""Template selection and rendering: usage type + locale + payload → subject, text, HTML.

Templates come from untrusted admins (a Logto console) and values from untrusted users, so
rendering is sandboxed Jinja, HTML autoescaped, and no value can add a line to a header.
Compiled templates are cached per connector: compiling costs ~100x more than rendering.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError
from jinja2 import Template as JinjaTemplate
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from .config import EmailTemplate
from .default_templates import default_template, shipped_locales
from .errors import ConnectorError, ErrorCode
from .html_text import html_to_text
from .usage import UsageType, usage_key

GENERIC = UsageType.GENERIC.value
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_SHORTHAND = re.compile(rf"<<\s*({_NAME})\s*>>")
_SHORTHAND_ESCAPED = re.compile(rf"&lt;&lt;\s*({_NAME})\s*&gt;&gt;")
_HEADER_BREAKS = re.compile(r"[\r\n\t\v\f\x00\u2028\u2029\x85]+")


@dataclass(frozen=True)
class RenderedBodies:
    """What a template produced for one payload, before addressing."""

    subject: str
    text: str | None
    html: str | None
    template: EmailTemplate


def shorthand_to_jinja(source: str) -> str:
    """`<<code>>` (also HTML-escaped `&lt;&lt;code&gt;&gt;` from rich editors) → `{{ code }}`."""
    source = _SHORTHAND.sub(r"{{ \1 }}", source)
    return _SHORTHAND_ESCAPED.sub(r"{{ \1 }}", source)


def locale_chain(locale: str | None, default_locale: str) -> list[str]:
    """Exact locale → its language → default locale (→ its language), without repeats."""
    chain: list[str] = []
    for candidate in (locale, default_locale):
        if not candidate:
            continue
        normal = normalize_locale(candidate)
        for item in (normal, normal.split("-")[0]):
            if item not in chain:
                chain.append(item)
    return chain


def normalize_locale(locale: str) -> str:
    return locale.strip().replace("_", "-").lower()


class TemplateSelector:
    """Index of configured templates by (usage type, locale) and the fallback chain of SPEC.md."""

    def __init__(
        self, templates: list[EmailTemplate], default_locale: str, use_shipped: bool = True
    ) -> None:
        self.default_locale = normalize_locale(default_locale)
        self.use_shipped = use_shipped
        self._index: dict[tuple[str, str], EmailTemplate] = {}
        for template in templates:
            locale = normalize_locale(template.locale) if template.locale else self.default_locale
            self._index.setdefault((template.usage_type, locale), template)

    def select(self, usage_type: UsageType | str, locale: str | None) -> EmailTemplate:
        usage = usage_key(usage_type)
        chain = locale_chain(locale, self.default_locale)
        for candidate_usage in dict.fromkeys((usage, GENERIC)):
            for candidate_locale in chain:
                found = self._index.get((candidate_usage, candidate_locale))
                if found is not None:
                    return found
        if self.use_shipped:
            shipped = _shipped(usage, chain)
            if shipped is not None:
                return shipped
        raise ConnectorError(
            ErrorCode.TEMPLATE_NOT_FOUND,
            f"No template for usage type {usage!r} (locale {locale or self.default_locale!r}) "
            f"and no Generic template to fall back to; add one to `templates`.",
        )


def _shipped(usage: str, chain: list[str]) -> EmailTemplate | None:
    locales = {name.lower(): name for name in shipped_locales()}
    candidates = [*chain, "en"]
    for candidate_usage in dict.fromkeys((usage, GENERIC)):
        for wanted in candidates:
            name = locales.get(wanted) or _same_language(wanted, locales)
            found = default_template(candidate_usage, name) if name else None
            if found is not None:
                return found
    return None


def _same_language(wanted: str, locales: dict[str, str]) -> str | None:
    """`zh` → `zh-CN`: a bare language finds the first shipped regional variant."""
    if "-" in wanted:
        return None
    for lower, name in sorted(locales.items()):
        if lower.split("-")[0] == wanted:
            return name
    return None


class Renderer:
    """Sandboxed Jinja environments (text: no escaping; HTML: autoescape) with a compile cache."""

    def __init__(self, max_payload_bytes: int = 64 * 1024) -> None:
        common = {"undefined": ChainableUndefined, "keep_trailing_newline": True}
        self._text_env = ImmutableSandboxedEnvironment(autoescape=False, **common)
        self._html_env = ImmutableSandboxedEnvironment(autoescape=True, **common)
        self._compiled: dict[tuple[int, str], tuple[EmailTemplate, JinjaTemplate]] = {}
        self.max_payload_bytes = max_payload_bytes

    def render(self, template: EmailTemplate, payload: Mapping[str, Any]) -> RenderedBodies:
        context = build_context(payload, self.max_payload_bytes)
        subject = self._render(template, "subject", template.subject, context)
        text = self._render_optional(template, "text", template.text_source, context)
        html = self._render_optional(template, "html", template.html_source, context)
        if html is not None and text is None:
            text = html_to_text(html, _string_values(context))
        return RenderedBodies(clean_header_text(subject), text, html, template)

    def _render_optional(
        self, template: EmailTemplate, part: str, source: str | None, context: dict[str, Any]
    ) -> str | None:
        return None if source is None else self._render(template, part, source, context)

    def _render(
        self, template: EmailTemplate, part: str, source: str, context: dict[str, Any]
    ) -> str:
        compiled = self._compile(template, part, source)
        try:
            return compiled.render(context)
        except SecurityError as exc:
            raise _template_error(template, part, f"blocked by the sandbox: {exc}") from None
        except TemplateError as exc:
            raise _template_error(template, part, str(exc)) from None
        except Exception as exc:  # a filter or value raising: still the template's fault
            raise _template_error(template, part, f"{type(exc).__name__}: {exc}") from None

    def _compile(self, template: EmailTemplate, part: str, source: str) -> JinjaTemplate:
        key = (id(template), part)
        cached = self._compiled.get(key)
        if cached is not None and cached[0] is template:
            return cached[1]
        env = self._html_env if part == "html" else self._text_env
        try:
            compiled = env.from_string(shorthand_to_jinja(source))
        except TemplateSyntaxError as exc:
            raise _template_error(template, part, exc.message or str(exc), exc.lineno) from None
        self._compiled[key] = (template, compiled)
        return compiled


def build_context(payload: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """The Jinja context: the payload as given plus snake/camel aliases of `expiresInMinutes`."""
    if not isinstance(payload, Mapping):
        raise ConnectorError(
            ErrorCode.TEMPLATE_ERROR, "payload must be a mapping such as {'code': '123456'}."
        )
    context = dict(payload)
    if "code" in context and context["code"] is not None:
        context["code"] = str(context["code"])
    if "expires_in_minutes" in context and "expiresInMinutes" not in context:
        context["expiresInMinutes"] = context["expires_in_minutes"]
    _check_size(context, max_bytes)
    return context


def _check_size(context: dict[str, Any], max_bytes: int) -> None:
    size = len(json.dumps(context, default=str, ensure_ascii=False).encode("utf-8"))
    if size > max_bytes:
        raise ConnectorError(
            ErrorCode.TEMPLATE_ERROR,
            f"payload is {size} bytes, over the limit of {max_bytes} (`maxPayloadBytes`); "
            "a verification email needs only a code, a link and a few names.",
        )


def clean_header_text(value: str) -> str:
    """Collapse line breaks and control whitespace: a subject is one line, whatever the payload."""
    return _HEADER_BREAKS.sub(" ", value).strip()


def _string_values(context: Mapping[str, Any]) -> Iterator[str]:
    for value in context.values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping):
            yield from _string_values(value)


def _template_error(
    template: EmailTemplate, part: str, why: str, line: int | None = None
) -> ConnectorError:
    where = f"template {template.label!r} ({part}"
    where += f", line {line})" if line else ")"
    return ConnectorError(ErrorCode.TEMPLATE_ERROR, f"Cannot render {where}: {why}")
