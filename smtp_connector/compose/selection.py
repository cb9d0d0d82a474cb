"""Template choice: (usage type, locale) → the configured template, by SPEC.md's fallback chain.

Exact locale → its language → the default locale, first for the usage type and then for
`Generic`, then the shipped templates, then `template_not_found`. A choice is memoised per
connector: the config does not change under it.
"""

from __future__ import annotations

import warnings

from ..config import EmailTemplate
from ..errors import ConnectorError, ErrorCode, TemplateWarning
from ..usage import UsageType, suggest_usage_type, usage_key
from .shipped import default_template, shipped_locales

GENERIC = UsageType.GENERIC.value


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
        self._chosen: dict[tuple[str, str | None], EmailTemplate] = {}
        for template in templates:
            locale = normalize_locale(template.locale) if template.locale else self.default_locale
            self._index.setdefault((template.usage_type, locale), template)

    def select(self, usage_type: UsageType | str, locale: str | None) -> EmailTemplate:
        """The template for (usage type, locale), memoised: the config does not change."""
        key = (usage_key(usage_type), locale)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = self._chosen[key] = self._select(*key)
            _warn_if_misspelt(key[0], chosen)
        return chosen

    def _select(self, usage: str, locale: str | None) -> EmailTemplate:
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


def _warn_if_misspelt(usage: str, chosen: EmailTemplate) -> None:
    """`send(..., "Regsiter")` would quietly go out with the Generic text: say so, once per
    (usage type, locale) and connector, since the choice is memoised."""
    suggestion = suggest_usage_type(usage) if chosen.usage_type != usage else None
    if suggestion is not None:
        warnings.warn(
            TemplateWarning(
                f"usage type {usage!r} is not a known usage type and has no template; did you "
                f"mean {suggestion!r}? It was rendered with the {chosen.usage_type} template."
            ),
            stacklevel=2,
        )
