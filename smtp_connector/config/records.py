"""The plain records of an obviously valid config dict: what `core.plain_config` builds.

`PlainConfig` has the attributes and defaults of `SmtpConfig` (and of its option groups and
templates) that the compose and delivery stages read, with the rules inherited from
`rules.py`; both it and the models satisfy the stages' views (`views.py`, checked by mypy), and
tests/config/test_core_config.py holds every field and default equal to the models'. No
pydantic here: a first send whose config needs no model must not load it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import register_secret
from ..usage import ContentType
from .rules import (
    DEFAULT_CONNECTION_TIMEOUT_MS,
    DEFAULT_DNS_TIMEOUT_MS,
    DEFAULT_GREETING_TIMEOUT_MS,
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_RENDER_TIMEOUT_MS,
    DEFAULT_SOCKET_TIMEOUT_MS,
    AuthRules,
    ServerRules,
    TemplateRules,
    TlsRules,
)

if TYPE_CHECKING:
    from .models import SmtpConfig
    from .templates import EmailTemplate


class PlainSecret:
    """`SecretStr`'s reading side: the value for who asks by name, masked in any repr. Made
    from a config's password, which is registered for redaction as the models do."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def get_secret_value(self) -> str:
        return self._value

    def __eq__(self, other: object) -> bool:
        get = getattr(other, "get_secret_value", None)
        return get is not None and get() == self._value

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "SecretStr('**********')"


class Record:
    """A read-only record: its fields' defaults are class attributes, an instance holds what
    it was given (a fresh list or dict for a field of `FACTORIES`). Not frozen dataclasses:
    declaring this module's nine as those cost a first send 64 million instructions (about
    12 ms: each generates and compiles its methods)."""

    FIELDS: ClassVar[tuple[str, ...]] = ()  # in order: the subclasses' annotated names
    FACTORIES: ClassVar[dict[str, Callable[[], Any]]] = {}

    def __init_subclass__(cls) -> None:
        own = tuple(name for name in inspect.get_annotations(cls) if name.islower())
        cls.FIELDS = cls.FIELDS + own

    def __init__(self, **given: Any) -> None:
        unknown = given.keys() - set(self.FIELDS)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        for name, make in self.FACTORIES.items():
            if name not in given:
                given[name] = make()
        self.__dict__.update(given)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.FIELDS if n != "source")

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.FIELDS if n != "source")
        return f"{type(self).__name__}({shown})"


class PlainAuth(Record, AuthRules):
    """`AuthConfig` of a login (user and password, or neither: a relay without AUTH)."""

    type: str | None = "login"  # AuthConfig infers it for a config without OAuth2 fields
    user: str | None = None
    pass_: PlainSecret | None = None  # its repr is masked
    method: str | None = None
    access_token: None = None
    client_id: None = None
    client_secret: None = None
    refresh_token: None = None
    expires: None = None
    access_url: None = None
    scope: None = None
    private_key: None = None
    private_key_passphrase: None = None
    service_client: None = None
    domain: None = None
    workstation: None = None


class PlainTls(Record, TlsRules):
    """`TlsOptions` with nothing set."""

    reject_unauthorized: bool = True
    ca: None = None
    servername: None = None
    min_version: None = None
    max_version: None = None
    ciphers: None = None
    cert: None = None
    key: None = None
    passphrase: None = None
    pfx: None = None

    @property
    def options_given(self) -> frozenset[str]:  # `TlsRules.any_given` reads it
        """None: `plain_config` leaves a config with a `tls` key to the model."""
        return frozenset()


class PlainPool(Record):
    max_connections: int = 5
    max_messages: int = 100
    idle_timeout: int = 30_000


class PlainRetry(Record):
    attempts: int = 3
    initial_delay: int = 200
    max_delay: int = 5_000
    deadline: int = 60_000
    resend_after_lost_reply: bool = False


class PlainHealth(Record):
    max_errors: int = 5
    cooldown: int = 30_000


class PlainThrottle(Record):
    per_recipient_interval: None = None
    per_recipient_hourly: None = None
    global_hourly: None = None
    store: str = "memory"


class PlainSettings(Record, ServerRules):
    """`ServerSettings`: reaching and logging in to one server."""

    host: str | None = None
    port: int | None = None
    auth: PlainAuth = PlainAuth()  # records are read-only: one default serves all
    secure: bool | None = None
    require_tls: bool = False
    ignore_tls: bool = False
    opportunistic_tls: bool = False
    tls: PlainTls = PlainTls()
    servername: str | None = None
    name: str | None = None
    local_address: str | None = None
    connection_timeout: int = DEFAULT_CONNECTION_TIMEOUT_MS
    greeting_timeout: int = DEFAULT_GREETING_TIMEOUT_MS
    socket_timeout: int = DEFAULT_SOCKET_TIMEOUT_MS
    dns_timeout: int = DEFAULT_DNS_TIMEOUT_MS


class PlainServer(PlainSettings):
    """`ServerConfig`: the top-level server as `server_list` gives it (priority 0)."""

    priority: int = 1
    default_from_email: str | None = None
    default_from_name: str | None = None
    label: str | None = None
    rate_limit: None = None


class PlainConfig(PlainSettings):
    """`SmtpConfig` of a core-fields config, as the compose and delivery stages read it."""

    FACTORIES: ClassVar[dict[str, Callable[[], Any]]] = {
        "templates": list,
        "custom_headers": dict,
        "servers": list,
        "source": dict,
    }

    allow_special_use_domains: bool = False
    from_email: str = ""  # always given: `plain_config` defers a config without it
    from_name: str | None = None
    reply_to: str | None = None
    templates: list[PlainTemplate]  # `ConfigTemplate`s
    default_locale: str = "en"
    use_shipped_templates: bool = True
    custom_headers: dict[str, Any]
    logger: bool = False
    debug: bool = False
    disable_file_access: bool = False
    disable_url_access: bool = False
    servers: list[Any]
    pool: PlainPool = PlainPool()
    rate_limit: None = None
    retry: PlainRetry = PlainRetry()
    health: PlainHealth = PlainHealth()
    throttle: PlainThrottle = PlainThrottle()
    dkim: None = None
    smime: None = None
    transport: str = "smtp"
    outbox_dir: str | None = None
    pipelining: bool = True
    refuse_private_hosts: bool = False
    max_payload_bytes: int = 64 * 1024
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    render_timeout: int = DEFAULT_RENDER_TIMEOUT_MS
    compose_cache: bool = True
    # The dict it was read from (copied), for `model()`; compared and shown by no one.
    source: dict[str, Any]

    def server_list(self) -> list[PlainServer]:
        """`SmtpConfig.server_list`: the top-level host alone, at priority 0."""
        names = PlainSettings.FIELDS
        return [PlainServer(**{name: getattr(self, name) for name in names}, priority=0)]

    def model(self) -> SmtpConfig:
        """The `SmtpConfig` of the same dict (pydantic loads here, for who asks for it)."""
        from .models import SmtpConfig

        return SmtpConfig.model_validate(self.source)

    def __repr__(self) -> str:  # as `SmtpConfig`'s: short, never a secret
        return (
            f"SmtpConfig(host={self.host!r}, port={self.port!r}, "
            f"from_email={self.from_email!r}, templates={len(self.templates)})"
        )


class PlainTemplate(Record, TemplateRules):
    """`EmailTemplate` as the shipped defaults are built (compose/shipped.py): checked by the
    tests that ship them, so a send need not validate them. Compared by identity, as the
    render caches key them."""

    __eq__ = object.__eq__
    __hash__ = object.__hash__  # type: ignore[assignment]

    usage_type: str
    subject: str
    content_type: ContentType = ContentType.TEXT
    content: str | None = None
    text_content: str | None = None
    html_content: str | None = None
    locale: str | None = None
    reply_to: str | None = None
    send_from: str | None = None

    def model(self) -> EmailTemplate:
        """The same template as an `EmailTemplate` (for an admin's view of the chain)."""
        from .templates import EmailTemplate

        return EmailTemplate(**{name: getattr(self, name) for name in self.FIELDS})


class ConfigTemplate(PlainTemplate):
    """A template of the config's own `templates`, in Logto's shape (`core.plain_templates`):
    compared by value, as `EmailTemplate` is (equal configs render alike: compose/parts.py
    carries an earlier connector's compiled templates over)."""

    __eq__ = Record.__eq__
    __hash__ = None  # type: ignore[assignment]
