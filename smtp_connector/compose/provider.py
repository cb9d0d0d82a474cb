"""Templates from outside the config: the template provider hook.

Logto's connector asks `getI18nEmailTemplate(type, languageTag)` for a template an admin stored
per language, and falls back to the config's templates when it answers nothing (or fails). The
library's equivalent is a `TemplateProvider` handed to `SmtpConnector(config,
template_provider=...)`: a SYNC object whose `template(usage_type, locale)` answers an
`EmailTemplate`, a mapping in Logto's template-details shape (`subject`, `content`,
`contentType`, `replyTo`, `sendFrom`; our `textContent`/`htmlContent` too), or None.

Sync on purpose: `render()` is sync and public, and a send must not wait on I/O to choose a
template. A provider over an async source (a database) keeps a snapshot in memory and changes
its optional `version` attribute (any hashable) whenever the snapshot changes. With a `version`
the connector asks once per (usage type, locale) and version; without one it asks on every
choice. Either way templates are kept by their content, so a changed text is a new template to
every cache (compiled Jinja, composed shapes) and an unchanged one keeps its cached work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import ConnectorError, ErrorCode, secret_safe_logger
from ..usage import ContentType

if TYPE_CHECKING:  # the models load with the first provider answer (pydantic: a cold start)
    from ..config import EmailTemplate

log = secret_safe_logger("smtp_connector.compose")

MAX_REMEMBERED = 1024  # answers per version, and templates kept by content
NO_VERSION = _NO_VERSION = object()  # a provider without `version`: asked on every choice


@functools.cache
def _fields() -> tuple[str, ...]:
    """`EmailTemplate`'s field names, read when a provider first answers: a send without a
    provider never loads the config models (and pydantic) for them."""
    from ..config import EmailTemplate

    return tuple(EmailTemplate.model_fields)


@runtime_checkable
class TemplateProvider(Protocol):
    """Where templates come from before the config's own (Logto's `getI18nEmailTemplate`).

    `template(usage_type, locale)` returns an `EmailTemplate`, a mapping in Logto's details
    shape, or None for "nothing here". It must not block: keep a snapshot and set `version`
    (any hashable, optional) to something new whenever the snapshot changes. Treat returned
    `EmailTemplate` objects as immutable."""

    def template(
        self, usage_type: str, locale: str | None
    ) -> EmailTemplate | Mapping[str, Any] | None: ...


def template_from_details(
    details: Mapping[str, Any], usage_type: str, locale: str | None = None
) -> EmailTemplate:
    """A mapping in Logto's template-details shape (or any `EmailTemplate` keys) as an
    `EmailTemplate` for `usage_type`. Logto sends a details template without `contentType`
    as HTML, so that is the default here; a bad template is `template_error`."""
    data = dict(details)
    if "usageType" not in data and "usage_type" not in data:
        data["usageType"] = usage_type
    if locale and "locale" not in data:
        data["locale"] = locale
    if "contentType" not in data and "content_type" not in data:
        data["contentType"] = ContentType.HTML.value
    from pydantic import ValidationError

    from ..config import EmailTemplate, config_error

    try:
        return EmailTemplate.model_validate(data)
    except ValidationError as exc:
        reason = config_error(exc).message.removeprefix("Invalid SMTP config: ")
        where = f"{usage_type}/{locale}" if locale else usage_type
        raise ConnectorError(
            ErrorCode.TEMPLATE_ERROR, f"Invalid template {where!r}: {reason}"
        ) from None


class ProviderTemplates:
    """The connector's view of a provider: answers memoised per version, templates interned by
    content. `forget` is told which templates will not be asked for again (so the renderer can
    drop their compiled code and shapes)."""

    def __init__(
        self, provider: TemplateProvider, forget: Callable[[list[EmailTemplate]], None]
    ) -> None:
        if not callable(getattr(provider, "template", None)):
            raise TypeError(
                "template_provider must have a template(usage_type, locale) method "
                "(see smtp_connector.TemplateProvider)"
            )
        self.provider = provider
        self._forget = forget
        self._version: Any = _NO_VERSION
        # Moves whenever an answer is not remembered or remembered answers are dropped, so a
        # choice made of this view's answers is remembered only while they all stand
        # (`TemplateSelector.choose`).
        self.generation = 0
        self._answers: dict[tuple[str, str | None], EmailTemplate | None] = {}
        self._by_content: dict[tuple[Any, ...], EmailTemplate] = {}

    @property
    def version(self) -> Any:
        """The provider's current `version`, or a marker when it has none."""
        return getattr(self.provider, "version", _NO_VERSION)

    @property
    def remembers(self) -> bool:
        """Whether answers are memoised (the provider has a `version`)."""
        return self.version is not _NO_VERSION

    def get(self, usage_type: str, locale: str | None) -> EmailTemplate | None:
        """The provider's template for (usage type, locale), or None."""
        version = self.version
        if version is _NO_VERSION:
            return self._ask(usage_type, locale)[0]
        if version != self._version:
            self._answers = {}
            self._version = version
            self.generation += 1
        key = (usage_type, locale)
        if key in self._answers:
            return self._answers[key]
        found, settled = self._ask(usage_type, locale)
        if settled:  # a provider that raised is asked again next time
            if len(self._answers) >= MAX_REMEMBERED:
                self._answers = {}
                self.generation += 1
            self._answers[key] = found
        else:
            self.generation += 1
        return found

    def _ask(self, usage_type: str, locale: str | None) -> tuple[EmailTemplate | None, bool]:
        """Ask the provider. A provider that raises is logged and counts as "nothing here", as
        Logto's connector treats a failing `getI18nEmailTemplate` (the config's templates
        answer instead); a template that does not validate is `template_error`."""
        try:
            answer = self.provider.template(usage_type, locale)
        except Exception as exc:
            log.warning(
                "template provider failed for %s/%s (%s); using the next template in the chain",
                usage_type,
                locale,
                type(exc).__name__,
            )
            return None, False
        if answer is None:
            return None, True
        from ..config import EmailTemplate

        if isinstance(answer, EmailTemplate):
            return self._intern(answer), True
        if isinstance(answer, Mapping):
            return self._intern(template_from_details(answer, usage_type, locale)), True
        raise ConnectorError(
            ErrorCode.TEMPLATE_ERROR,
            f"The template provider answered a {type(answer).__name__} for {usage_type!r}; "
            "it must answer an EmailTemplate, a mapping (subject, content, contentType …) or None",
        )

    def _intern(self, template: EmailTemplate) -> EmailTemplate:
        """One template object per content: the caches key on identity, so an unchanged text
        keeps its compiled template, and a changed one (even edited in place) is new."""
        key = tuple(getattr(template, name) for name in _fields())
        known = self._by_content.get(key)
        if known is not None:
            return known
        if len(self._by_content) >= MAX_REMEMBERED:
            self._forget(list(self._by_content.values()))
            self._by_content = {}
            self._answers = {}
            self.generation += 1
        copy = template.model_copy()
        self._by_content[key] = copy
        return copy
