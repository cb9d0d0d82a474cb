"""`Composer`: the compose stage behind one object, the part of `SmtpConnector` that never sends.

Template choice, rendering, and the checks an admin runs before a template or a payload is
used (`check_template`, `check_payload`, `template_source`/`template_choice`) need the config's
templates, the renderer and the senders, but no signer, throttle or SMTP pool: they live here,
and `SmtpConnector` (connector.py) adds the signing and delivery stages on top. The seam is
the pipeline's own, config → compose | sign → deliver, so each half reads in one sitting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..config.headers import validate_custom_headers
from ..config.records import PlainConfig, PlainTemplate
from ..usage import UsageType, usage_key
from .checks import check_one_template, check_templates
from .message import RenderedEmail, rendered_email
from .parts import compose_parts
from .payload import normalise_context, require_mapping
from .provider import TemplateProvider
from .rendering import Renderer
from .requirements import payload_check_for
from .selection import Choice, Source, TemplateSelector
from .send_plans import SendPlans
from .senders import Senders

if TYPE_CHECKING:
    from ..config import EmailTemplate, SmtpConfig
    from ..config.views import ConfigView


class Composer:
    """Selects, renders and checks the templates of one configuration (no delivery)."""

    def __init__(
        self,
        config: ConfigView,
        template_provider: TemplateProvider | None = None,
        compose_from: Composer | None = None,
        *,
        caller_depth: int = 1,
    ) -> None:
        """`template_provider` answers templates before the config's own; `compose_from`, an
        earlier composer that renders the same way, lends its compiled templates and proven
        shapes (see `SmtpConnector.__init__`). A broken template fails here, not on the
        first sign-up, as a signer's key does; a template warning points at the line that
        built the object, `caller_depth` frames up (2 through a subclass's `__init__`)."""
        self._config = cfg = config
        self._model: SmtpConfig | None = None  # `config` of a plain config, once asked
        # Read once: a model's attribute costs a pydantic `__getattr__` hook (~900
        # instructions) on every read, and every send's context reads it.
        self._default_locale = cfg.default_locale
        self._headers = tuple(validate_custom_headers(cfg.custom_headers))
        self._max_payload = cfg.max_payload_bytes
        earlier = compose_from
        selector, renderer = compose_parts(
            cfg,
            (earlier._config, earlier._selector, earlier._renderer) if earlier else None,
            template_provider,
        )
        self._selector: TemplateSelector = selector
        self._renderer: Renderer = renderer
        self._senders = Senders(cfg, self._renderer)
        sender = self._senders.default_from
        self._app_name = cfg.from_name or sender.display_name or sender.domain
        sample = self._context({}, None)
        self.template_warnings: list[str] = check_templates(
            cfg.templates,
            self._renderer,
            cfg.default_locale,
            self._senders,
            sample,
            stacklevel=2 + caller_depth,
        )
        self._renderer.check_limits(cfg.templates, sample)
        plans = SendPlans(selector, payload_check_for(renderer), cfg, self.template_warnings)
        self._plans = plans

    @property
    def config(self) -> SmtpConfig:
        """The `SmtpConfig`. A connector built from a core-fields dict reads a plain copy
        (config/core.py) and validates the model here, on first access, from the same dict."""
        model = self._model
        if model is None:
            model = self._model = _model_of(self._config)
        return model

    @config.setter
    def config(self, value: SmtpConfig) -> None:  # an attribute before: assignable, as then
        self._config = self._model = value
        self._default_locale = value.default_locale

    def render(
        self,
        usage_type: UsageType | str,
        payload: Mapping[str, Any],
        locale: str | None = None,
        *,
        to: str | Sequence[str] | None = None,
    ) -> RenderedEmail:
        """Select the template for (usage type, locale) and render it with `payload`."""
        if type(payload) is not dict:  # a dict needs no call to check (one a send)
            require_mapping(payload)
        # Once: the selector takes the key as it is (a str is its own key: no call for it).
        usage = usage_type if type(usage_type) is str else usage_key(usage_type)
        if not locale:  # the payload's own; a dict without one has none (no call to say so)
            locale = (
                payload_locale(payload)
                if type(payload) is not dict or "locale" in payload
                else None
            )
        template = self._selector.choose(usage, locale).template  # `select`, one call less
        # One copy of the payload, checked and shaped in place in one walk (the render's).
        bodies = self._renderer.render_context(template, self._context(payload, locale))
        senders = self._senders
        if template.send_from is None and template.reply_to is None:
            sender, reply_to = senders.default_from, senders.default_reply_to
        else:  # addresses rendered from the context as given (not normalised), as before
            sender, reply_to = senders.for_template(template, self._context(payload, locale))
        email = rendered_email(  # `RenderedEmail(...)`, its text and HTML filled when read
            bodies.subject,
            bodies.text,
            bodies.html,
            sender,
            self._senders.recipients(to) if to is not None else (),
            reply_to,
            self._headers,
            usage,
            template.locale or locale,
            bodies.short_lines,
            bodies.wire,
        )
        email.payload = dict(payload)
        return email

    def check_preparation(
        self, usage_type: UsageType | str, payload: Mapping[str, Any], locale: str | None = None
    ) -> Callable[[], None] | None:
        """None when `check_payload` with these arguments finds its template analysed already;
        else that analysis, for a host to run off its event loop first (see SendPlans)."""
        return self._plans.preparation(usage_type, locale or payload_locale(payload))

    def check_payload(
        self, usage_type: UsageType | str, payload: Mapping[str, Any], locale: str | None = None,
        *, to: str | Sequence[str] | None = None, allow_fallback: bool = True,
    ) -> list[str]:  # fmt: skip
        """Prove a send would go out as meant, without sending (see compose/requirements.py)."""
        require_mapping(payload)
        if to is not None:
            self._senders.recipients(to)
        locale = locale or payload_locale(payload)
        return self._plans.check(usage_type, locale, payload, self._built_context, allow_fallback)

    def template_source(self, usage_type: UsageType | str, locale: str | None = None) -> Source:
        """Which level a send of (usage type, locale) takes its template from: "provider",
        "config" or "shipped" (for an admin's grid). Raises `template_not_found`."""
        return self._selector.choose(usage_type, locale).source

    def template_choice(self, usage_type: UsageType | str, locale: str | None = None) -> Choice:
        """The template a send of (usage type, locale) renders and its level (`.source`): its
        `usage_type` is `Generic` where Generic filled in. Raises `template_not_found`."""
        choice = self._selector.choose(usage_type, locale)
        if isinstance(choice.template, PlainTemplate):  # shipped or plain: its model, for admins
            return Choice(choice.template.model(), choice.source)
        return choice

    def check_template(
        self,
        template: EmailTemplate | Mapping[str, Any],
        usage_type: UsageType | str | None = None,
        locale: str | None = None,
    ) -> list[str]:
        """Check a template before it is stored (a mapping in Logto's details shape needs
        `usage_type`): the checks configured templates get when the connector is built. Raises
        `template_error` for a syntax error (with its line), a sandbox limit the template breaks
        on its own, or a bad `sendFrom`/`replyTo`; returns warnings (no code placeholder for a
        code-bearing usage type, a misspelt usage type), without issuing them."""
        usage = usage_key(usage_type) if usage_type is not None else None
        return check_one_template(
            template, usage, locale, self._renderer, self._senders, self._context({}, None)
        )

    def compose_cache_info(self) -> dict[str, Any] | None:
        """The shape cache's counters (hits, misses, size, fallbacks by reason); None when
        `composeCache` is off. For monitoring and for the tests that prove the fallbacks."""
        shapes = self._renderer.shapes
        return shapes.cache_info() if shapes is not None else None

    def _built_context(self, payload: Mapping[str, Any], locale: str | None) -> dict[str, Any]:
        """`build_context(self._context(payload, locale))` with one copy of the payload, not
        two (the render and the payload check of every send)."""
        return normalise_context(self._context(payload, locale), self._max_payload)

    def _context(self, payload: Mapping[str, Any], locale: str | None) -> dict[str, Any]:
        context = dict(payload)
        if not context.get("application"):
            context["application"] = {"name": self._app_name}
        context.setdefault("locale", locale or self._default_locale)
        return context


def payload_locale(payload: Mapping[str, Any]) -> str | None:
    """The payload's own `locale`, when the caller gave none (Logto puts it there)."""
    is_mapping = type(payload) is dict or isinstance(payload, Mapping)  # a dict: no ABC check
    locale = payload.get("locale") if is_mapping else None
    return locale if isinstance(locale, str) and locale else None


def _model_of(config: ConfigView) -> SmtpConfig:
    """The model of the config the stages read: a plain config's, validated from its dict,
    or the config itself (anything else read as a config is a model already)."""
    if isinstance(config, PlainConfig):
        return config.model()
    from ..config.models import SmtpConfig

    if not isinstance(config, SmtpConfig):
        raise TypeError(f"not an SmtpConfig: {type(config).__name__}")
    return config
