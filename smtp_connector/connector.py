"""`SmtpConnector`: the one object an auth system holds.

It wires the stages together — config → compose (template choice, rendering, MIME) → signing →
delivery (throttles, then pooled SMTP with failover, or a memory/console/file outbox) — and offers
the same operations to async and sync callers. Rendering and the template and payload checks are
its base class's, `Composer` (compose/composer.py); this module adds what sends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .compose.composer import Composer
from .compose.provider import TemplateProvider
from .config.core import plain_config
from .delivery.failover import SmtpDelivery
from .delivery.network import AddressPolicy
from .delivery.throttle import Throttle, ThrottleStore
from .errors import ConnectorError, secret_safe_logger
from .finishing import Finisher
from .results import SendResult, Step
from .sync_loop import LoopThread
from .usage import UsageType

if TYPE_CHECKING:  # loaded when a config uses them (DKIM/S/MIME, OAuth2, a local backend)
    from .config import SmtpConfig
    from .config.views import ConfigView
    from .delivery.backends import Backend
    from .delivery.oauth import TokenProvider
    from .signing.policy import Signer

log = secret_safe_logger("smtp_connector")

TEST_CODE = "000000"


@dataclass
class SendRequest:
    """One item for `send_many`."""

    to: str | Sequence[str]
    usage_type: UsageType | str = UsageType.GENERIC
    payload: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    locale: str | None = None


_REQUEST_FIELDS = frozenset(field.name for field in dataclasses.fields(SendRequest))


def _as_request(item: SendRequest | Mapping[str, Any]) -> SendRequest:
    return item if isinstance(item, SendRequest) else SendRequest(**item)


class SmtpConnector(Composer):
    """Renders and delivers verification emails for one configuration.

    Use as `async with SmtpConnector(config) as connector:` so pooled connections are closed,
    or call `send_sync` from synchronous code.
    """

    # False: `send_many` calls `send` per message, and `send` the backend's `send` (the tests
    # compare the ways: tests/delivery/test_send_many_inline.py).
    inline_send_many = True
    inline_send = True

    def __init__(
        self,
        config: SmtpConfig | Mapping[str, Any],
        *,
        token_provider: TokenProvider | None = None,
        throttle_store: ThrottleStore | None = None,
        on_sent: Callable[[SendResult], Any] | None = None,
        on_failed: Callable[[ConnectorError], Any] | None = None,
        template_provider: TemplateProvider | None = None,
        address_policy: AddressPolicy | None = None,
        compose_from: SmtpConnector | None = None,
    ) -> None:
        """`template_provider` answers templates before the config's own (Logto's
        `getI18nEmailTemplate`; see `TemplateProvider` and docs/templates.md).
        `address_policy` is for hosts that embed the connector on behalf of others (the
        service): it is asked about every address a server name resolves to, before any
        connection, and refuses by returning a reason. `compose_from`, an earlier connector
        (the service rebuilding one after a server changed): when it renders the same way
        (templates, locale, limits), its compiled templates and proven shapes carry over, so
        the first sends need not compile them again."""
        cfg = _validated(config)
        _configure_logging(cfg)
        super().__init__(cfg, template_provider, compose_from, caller_depth=2)
        self._owned_store: Any = None  # a Redis store built from throttle.store, closed by us
        self._signers: list[Signer] = _signers(cfg)
        if throttle_store is None and cfg.throttle.store != "memory":
            from .delivery.redis_store import RedisThrottleStore

            throttle_store = self._owned_store = RedisThrottleStore(cfg.throttle.store)
        self._throttle = Throttle(cfg.throttle, throttle_store)
        self._on_sent, self._on_failed = on_sent, on_failed
        shared_rate = throttle_store if hasattr(throttle_store, "rate_slot") else None
        smime_strict = cfg.smime.dont_send_on_error if cfg.smime else True
        finisher = Finisher(self._senders, self._signers, smime_strict)  # holds no `self`
        # Its bound `__call__`, called once a send: calling the object itself goes through
        # `slot_tp_call`, which looks the method up and packs the arguments every time.
        self._backend: Backend = _make_backend(
            cfg, finisher.__call__, token_provider, shared_rate, address_policy
        )
        self._loop_thread: LoopThread | None = None
        self._loop_lock = threading.Lock()

    # -- sending ---------------------------------------------------------------------------

    async def send(
        self,
        to: str | Sequence[str],
        usage_type: UsageType | str = UsageType.GENERIC,
        payload: Mapping[str, Any] | None = None,
        locale: str | None = None,
    ) -> SendResult:
        """Render the template for `usage_type` and deliver it to `to`. Raises ConnectorError."""
        try:
            email = self.render(usage_type, payload or {}, locale, to=to)
            smtp = self._backend
            if self._throttle.enabled:  # else `acquire` returns at once: skip its coroutines
                for recipient in email.envelope_to:
                    await self._throttle.acquire(recipient)
                result = await smtp.send(email)
            elif not self.inline_send or not isinstance(smtp, SmtpDelivery):
                result = await smtp.send(email)
            else:  # the backend's `send` written out (as in `send_many`): one coroutine fewer
                begun = smtp.first_try(email)
                try:
                    result = smtp.first_result(begun, await begun[1])
                except ConnectorError as failed:
                    result = await smtp.after_first(email, begun, failed)
        except ConnectorError as error:
            _call_hook(self._on_failed, error)
            raise
        _call_hook(self._on_sent, result)
        return result

    def send_sync(
        self,
        to: str | Sequence[str],
        usage_type: UsageType | str = UsageType.GENERIC,
        payload: Mapping[str, Any] | None = None,
        locale: str | None = None,
    ) -> SendResult:
        """`send` for synchronous callers; runs on the connector's own event-loop thread, so it
        works from plain code and from threads while another loop runs elsewhere."""
        return self._run_sync(self.send(to, usage_type, payload, locale))

    async def send_test(self, to: str, locale: str | None = None) -> SendResult:
        """Send the Generic template with code 000000: proves config, templates and delivery."""
        return await self.send(to, UsageType.GENERIC, {"code": TEST_CODE}, locale)

    async def send_many(
        self,
        requests: Iterable[SendRequest | Mapping[str, Any]],
        *,
        concurrency: int = 10,
        on_progress: Callable[[int, SendResult | ConnectorError], Any] | None = None,
    ) -> list[SendResult | ConnectorError]:
        """Send many messages concurrently; one result or error per request, in input order."""
        items = list(requests)
        for item in items:  # a malformed item fails here, before anything is sent
            if type(item) is not dict or "to" not in item or not item.keys() <= _REQUEST_FIELDS:
                _as_request(item)
        results: list[SendResult | ConnectorError | None] = [None] * len(items)
        pending = iter(range(len(items)))  # shared by the workers: each index taken once
        done = 0
        # `send`'s steps inlined when the backend is SMTP and no throttle is configured: the
        # worker awaits the pool's future of the first try itself, so a message costs no
        # coroutine (`send` and the backend's `send` were two per message, each resumed when
        # the reply came). Whatever the first try does not settle goes the backend's way.
        backend = self._backend
        smtp = backend if isinstance(backend, SmtpDelivery) else None
        if not self.inline_send_many or self._throttle.enabled:
            smtp = None
        on_sent, on_failed = self._on_sent, self._on_failed
        loop = asyncio.get_running_loop()  # once, not per message (a `getpid()` on 3.11)

        async def worker() -> None:
            nonlocal done
            for index in pending:
                item = items[index]
                try:
                    if type(item) is dict:  # read as is: no SendRequest built per message
                        usage = item.get("usage_type", UsageType.GENERIC)
                        to, payload, locale = item["to"], item.get("payload"), item.get("locale")
                    else:
                        request = _as_request(item)
                        to, usage = request.to, request.usage_type
                        payload, locale = request.payload, request.locale
                    if smtp is None:
                        outcome: SendResult | ConnectorError = await self.send(
                            to, usage, payload, locale
                        )
                    else:  # `send`, with the backend's `send` written out
                        try:
                            email = self.render(usage, payload or {}, locale, to=to)
                            begun = smtp.first_try(email, loop)
                            try:
                                outcome = smtp.first_result(begun, await begun[1])
                            except ConnectorError as error:
                                outcome = await smtp.after_first(email, begun, error)
                        except ConnectorError as error:
                            if on_failed is not None:
                                _call_hook(on_failed, error)
                            raise
                        if on_sent is not None:
                            _call_hook(on_sent, outcome)
                except ConnectorError as error:
                    outcome = error
                results[index] = outcome
                done += 1
                if on_progress is not None:
                    _call_hook(on_progress, done, outcome)
                del outcome  # see below

        workers = max(1, min(concurrency, len(items)))
        await asyncio.gather(*(worker() for _ in range(workers)))
        outcomes = [r for r in results if r is not None]
        # A failed message's error keeps its traceback's frames, the workers' among them, and
        # a worker's frame keeps `results` (this cell): emptied, the error no longer reaches
        # itself, and the connector is freed by reference counting once nobody holds it.
        results.clear()
        return outcomes

    # -- checks and health --------------------------------------------------------------------

    async def verify(self) -> list[tuple[str, list[Step]]]:
        """Check provider rules, then connect, TLS and AUTH to every server without sending.

        Raises ConnectorError: `invalid_config` for a combination the provider is known to
        refuse (e.g. Aliyun with From ≠ user), else whatever the connection attempt hit.
        """
        from .presets.rules import check_preset_rules

        check_preset_rules(self.config)
        return await self._backend.verify()

    async def check(self, server: str) -> dict[str, object]:
        """Probe one server for real; re-enables it on success, disables it on failure."""
        if not isinstance(self._backend, SmtpDelivery):
            return self._backend.health()[0]
        return (await self._backend.check(server)).as_dict()

    def health(self) -> list[dict[str, object]]:
        """Each server's state (status, error counters) for monitoring."""
        return self._backend.health()

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> SmtpConnector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Let in-flight sends finish, then QUIT pooled connections."""
        await self._backend.aclose()
        if self._owned_store is not None:
            await self._owned_store.aclose()
            self._owned_store = None
        if self._loop_thread is not None:
            pending = asyncio.run_coroutine_threadsafe(
                self._backend.aclose(), self._loop_thread.loop
            )
            await asyncio.wrap_future(pending)

    def close(self) -> None:
        """Synchronous close for `send_sync` users."""
        if self._loop_thread is not None:
            self._loop_thread.run(self._backend.aclose())
            self._loop_thread.stop()
            self._loop_thread = None

    def _run_sync(self, coroutine: Awaitable[Any]) -> Any:
        with self._loop_lock:
            if self._loop_thread is None:
                self._loop_thread = LoopThread()
        return self._loop_thread.run(coroutine)


def _validated(config: SmtpConfig | Mapping[str, Any]) -> ConfigView:
    """The config the stages read: a core-fields dict as a `PlainConfig`, without pydantic
    (config/core.py; `connector.config` gives its model when asked), anything else validated
    by `SmtpConfig`, which gives the model or the error."""
    if type(config) is dict:
        try:
            plain = plain_config(config)
        except Exception:  # a bug of the fast path costs speed, never the user's config:
            plain = None  # the model validates it (tests call plain_config itself)
        if plain is not None:  # a `ConfigView`, as the model is (mypy checks both)
            return plain
    from .config.models import SmtpConfig

    return config if isinstance(config, SmtpConfig) else SmtpConfig.model_validate(config)


def _make_backend(
    config: ConfigView,
    prepare: Any,
    token_provider: TokenProvider | None,
    shared_rate: Any = None,
    address_policy: AddressPolicy | None = None,
) -> Backend:
    if config.transport == "smtp":
        return SmtpDelivery(config, prepare, token_provider, shared_rate, address_policy)
    from .delivery.backends import LOCAL_BACKENDS  # outbox/file/console: tests and dev only

    return LOCAL_BACKENDS[config.transport](config, prepare)  # type: ignore[return-value]


def _signers(config: ConfigView) -> list[Signer]:
    """The config's signers; the signing stage (and its crypto) loads only when one is asked."""
    if config.dkim is None and config.smime is None:
        return []
    from .signing.policy import build_signers

    return build_signers(config)


def _call_hook(hook: Callable[..., Any] | None, *args: Any) -> None:
    """Hooks are for metrics: a failing hook is logged, never breaks a send."""
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:
        log.exception("send hook %r raised", hook)


def _configure_logging(config: ConfigView) -> None:
    """Logto's `logger`/`debug` switches: log to stderr at INFO/DEBUG when nothing else does."""
    if not (config.logger or config.debug):
        return
    if not any(not isinstance(h, logging.NullHandler) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if config.debug else logging.INFO)
