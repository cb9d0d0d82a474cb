"""`SmtpConnector.check_payload` with what depends only on (usage type, locale) remembered.

The service checks every send before it answers 200 or 202 (store/precheck.py), and most of
that check is the same for every send of one usage type and locale: which template is chosen
(the provider, config and shipped chain), whether the usage type or locale fell back and the
warnings that says, and the connector's load-time findings about that template. Those are
remembered per (usage type, locale, `allow_fallback`) and template provider `version`, so a
send computes only what depends on its values: the recipients (the caller's), the context
(size, link, code), and the values the template would show empty.

A plan is remembered only once the choice and the fallback check have both passed (a refused
send takes the whole path each time, so its error is raised where and as it was). A passed
check passes again for the same key (neither the config nor a provider's snapshot at one
version change under a connector), so skipping it cannot move an error of the send's values
ahead of another. A provider without `version` is asked on every choice, as before.
Hypothesis holds the remembered path equal to the whole one: tests/compose/test_send_plans.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from ..usage import UsageType, usage_key
from .requirements import PayloadCheck, fallback_findings, load_findings, missing_error
from .selection import TemplateSelector

if TYPE_CHECKING:
    from ..config.views import ConfigView, TemplateView

MAX_PLANS = 1024  # (usage type, locale) pairs; locales come from callers, so bounded
_Plan = tuple["TemplateView", tuple[str, ...]]
_NO_PROVIDER = object()


class SendPlans:
    """A connector's remembered (template, warnings) per (usage type, locale); see above."""

    def __init__(
        self, selector: TemplateSelector, checker: PayloadCheck, config: ConfigView,
        found: list[str],
    ) -> None:  # fmt: skip
        self._selector = selector
        self._checker = checker
        self._config = config
        self._found = found
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        self._version: Any = _NO_PROVIDER  # the provider's, when plans were last remembered

    def check(
        self,
        usage_type: UsageType | str,
        locale: str | None,
        payload: Mapping[str, Any],
        context_of: Callable[[Mapping[str, Any], str | None], dict[str, Any]],
        allow_fallback: bool,
    ) -> list[str]:
        """`check_payload` once the recipients are checked and the locale is known."""
        provider = self._selector.provider
        version = provider.version if provider is not None else _NO_PROVIDER
        usage = usage_key(usage_type)
        if version != self._version:  # the provider's snapshot changed: older plans are stale
            self._plans, self._version = {}, version
        key = (usage, locale, allow_fallback)
        plan = self._plans.get(key)
        template = plan[0] if plan is not None else self._selector.select(usage, locale)
        context = context_of(payload, locale)  # the payload as `build_context` makes it
        if plan is None:
            warnings = fallback_findings(
                usage, locale, template, self._config.default_locale, allow_fallback
            )
            plan = (template, (*warnings, *load_findings(template, self._config, self._found)))
            if provider is None or provider.remembers:
                if len(self._plans) >= MAX_PLANS:
                    self._plans = {}
                self._plans[key] = plan
        missing = self._checker.missing(template, context)
        if missing:
            raise missing_error(template, missing, payload)
        return list(plan[1])

    def preparation(
        self, usage_type: UsageType | str, locale: str | None
    ) -> Callable[[], None] | None:
        """`SmtpConnector.check_preparation`: None when `check` would analyse no template
        source, else that analysis (milliseconds the first time a template is checked), for a
        host to run off its event loop first (store/precheck.py). It works on the template
        chosen now: a template replaced meanwhile is analysed by `check`, as before. A plan
        `check` remembered at the provider's current version holds that choice already (the
        template does not depend on `allow_fallback`): no second choice on a warm send."""
        plan = self._remembered(usage_key(usage_type), locale)
        if plan is not None:
            template = plan[0]
        else:
            try:
                template = self._selector.select(usage_type, locale)
            except Exception:  # a refused choice: `check` raises it, at no cost
                return None
        return None if self._checker.knows(template) else partial(self._checker.learn, template)

    def _remembered(self, usage: str, locale: str | None) -> _Plan | None:
        """A plan of (usage, locale) still valid (the provider's version unchanged), or None."""
        provider = self._selector.provider
        version = provider.version if provider is not None else _NO_PROVIDER
        if version != self._version:
            return None
        plans = self._plans
        return plans.get((usage, locale, False)) or plans.get((usage, locale, True))

    def clear(self) -> None:
        """Forget every plan (the tests' whole path)."""
        self._plans = {}
