"""Template choice: (usage type, locale) → a template, by SPEC.md's fallback chain.

Without a template provider: exact locale → its language → the default locale, first for the
usage type and then for `Generic`, then the shipped templates (the usage type's, then
Generic's), then `template_not_found`. With one (`provider.py`), its answer for the usage type
comes first, and its answer for `Generic` comes after the shipped template of the usage type:

    provider(usage, locale) → config (usage, then Generic) → shipped(usage)
    → provider(Generic, locale) → shipped(Generic) → template_not_found

The config and shipped parts of a choice are memoised per connector (they do not change); the
provider's answers are memoised by the provider's `version`, and so is a whole choice made
with them (one lookup per send, as without a provider).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, Literal

from ..errors import ConnectorError, ErrorCode, TemplateWarning
from ..usage import UsageType, suggest_usage_type, usage_key
from .provider import NO_VERSION, ProviderTemplates, TemplateProvider
from .shipped import default_template, shipped_locales

if TYPE_CHECKING:
    from ..config.views import TemplateView

GENERIC = UsageType.GENERIC.value
MAX_MEMOISED = 4096  # (usage type, locale) pairs; locales come from callers, so bounded
Source = Literal["provider", "config", "shipped"]


class Choice:
    """A chosen template and the level it came from (for an admin's view of the chain).
    Read-only (`Final`); a plain class, not a frozen dataclass, for the import cost (see
    compose/limits.py's RenderLimits)."""

    __slots__ = ("source", "template")

    def __init__(self, template: TemplateView, source: Source) -> None:
        self.template: Final = template
        self.source: Final = source


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
    """Index of configured templates by (usage type, locale) and the fallback chain above."""

    def __init__(
        self,
        templates: Sequence[TemplateView],
        default_locale: str,
        use_shipped: bool = True,
        provider: TemplateProvider | None = None,
        *,
        forget: Callable[[Sequence[TemplateView]], None] = lambda templates: None,
    ) -> None:
        """`forget` is told of a provider's templates that will not be used again (the
        renderer drops what it cached for them)."""
        self.default_locale = normalize_locale(default_locale)
        self.use_shipped = use_shipped
        self.provider = ProviderTemplates(provider, forget) if provider is not None else None
        self._index: dict[tuple[str, str], TemplateView] = {}
        # (usage, locale) -> (config or shipped choice for the usage, shipped Generic)
        self._static: dict[tuple[str, str | None], tuple[Choice | None, Choice | None]] = {}
        self._warned: set[tuple[str, str | None]] = set()
        self._chosen: dict[tuple[str, str | None], Choice] = {}  # without a provider
        self._provided: dict[tuple[str, str | None], Choice] = {}  # with one, at this stamp
        self._provided_stamp: tuple[object, int] | None = None
        for template in templates:
            locale = normalize_locale(template.locale) if template.locale else self.default_locale
            self._index.setdefault((template.usage_type, locale), template)

    @property
    def template_provider(self) -> TemplateProvider | None:
        """The provider this selector asks (as given to the connector), or None."""
        return self.provider.provider if self.provider is not None else None

    def select(self, usage_type: UsageType | str, locale: str | None) -> TemplateView:
        """The template for (usage type, locale)."""
        return self.choose(usage_type, locale).template

    def choose(self, usage_type: UsageType | str, locale: str | None) -> Choice:
        """The template for (usage type, locale) and where it came from. Without a provider
        the whole choice is memoised (one dict lookup per send, as before the hook)."""
        usage = usage_type if type(usage_type) is str else usage_key(usage_type)  # a key: no call
        if self.provider is not None:
            return self._provided_choice(usage, locale)
        key = (usage, locale)
        chosen = self._chosen.get(key)
        if chosen is None:
            if len(self._chosen) >= MAX_MEMOISED:
                self._chosen = {}
            chosen = self._chosen[key] = self._choose(usage, locale)
        return chosen

    def _provided_choice(self, usage: str, locale: str | None) -> Choice:
        """`_choose` with a provider, memoised while the provider's answers it was made of
        stand: same `version`, and none dropped or unsettled since (`generation`). A provider
        without `version` is asked on every choice."""
        provider = self.provider
        assert provider is not None
        version = provider.version
        if version is NO_VERSION:
            return self._choose(usage, locale)
        stamp = (version, provider.generation)
        if stamp != self._provided_stamp:
            self._provided, self._provided_stamp = {}, stamp
        key = (usage, locale)
        chosen = self._provided.get(key)
        if chosen is None:
            chosen = self._choose(usage, locale)
            if (provider.version, provider.generation) == stamp:  # its answers all stand
                if len(self._provided) >= MAX_MEMOISED:
                    self._provided = {}
                self._provided[key] = chosen
        return chosen

    def _choose(self, usage: str, locale: str | None) -> Choice:
        provider = self.provider
        if provider is not None:
            found = provider.get(usage, locale)
            if found is not None:
                return self._checked(usage, locale, Choice(found, "provider"))
        first, generic = self._static_choice(usage, locale)
        if first is not None:
            return self._checked(usage, locale, first)
        if provider is not None and usage != GENERIC:
            found = provider.get(GENERIC, locale)
            if found is not None:
                return self._checked(usage, locale, Choice(found, "provider"))
        if generic is not None:
            return self._checked(usage, locale, generic)
        raise ConnectorError(
            ErrorCode.TEMPLATE_NOT_FOUND,
            f"No template for usage type {usage!r} (locale {locale or self.default_locale!r}) "
            f"and no Generic template to fall back to; add one to `templates`"
            + (" (the template provider had none either)." if provider is not None else "."),
        )

    def _static_choice(self, usage: str, locale: str | None) -> tuple[Choice | None, Choice | None]:
        """Config (usage, then Generic) or shipped(usage); and shipped(Generic). Memoised:
        neither the config nor the shipped templates change under a connector."""
        key = (usage, locale)
        known = self._static.get(key)
        if known is None:
            if len(self._static) >= MAX_MEMOISED:
                self._static = {}
            known = self._static[key] = self._find_static(usage, locale)
        return known

    def _find_static(self, usage: str, locale: str | None) -> tuple[Choice | None, Choice | None]:
        chain = locale_chain(locale, self.default_locale)
        for candidate_usage in dict.fromkeys((usage, GENERIC)):
            for candidate_locale in chain:
                found = self._index.get((candidate_usage, candidate_locale))
                if found is not None:
                    return Choice(found, "config"), None
        if not self.use_shipped:
            return None, None
        shipped = _shipped(usage, chain)
        generic = _shipped(GENERIC, chain) if shipped is None else None
        return (
            Choice(shipped, "shipped") if shipped is not None else None,
            Choice(generic, "shipped") if generic is not None else None,
        )

    def _checked(self, usage: str, locale: str | None, choice: Choice) -> Choice:
        """`send(..., "Regsiter")` would quietly go out with the Generic text: say so, once per
        (usage type, locale) and connector."""
        if choice.template.usage_type != usage and (usage, locale) not in self._warned:
            if len(self._warned) >= MAX_MEMOISED:
                self._warned = set()
            self._warned.add((usage, locale))
            _warn_if_misspelt(usage, choice.template)
        return choice


def _shipped(usage: str, chain: list[str]) -> TemplateView | None:
    """The shipped template of `usage`: the locale chain, then English."""
    locales = {name.lower(): name for name in shipped_locales()}
    for wanted in [*chain, "en"]:
        name = locales.get(wanted) or _same_language(wanted, locales)
        found = default_template(usage, name) if name else None
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


def _warn_if_misspelt(usage: str, chosen: TemplateView) -> None:
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
