"""SMTP delivery policy: which server, how many tries, when to give up.

Servers are tried in priority order, skipping those the circuit breaker has disabled; a
server-level failure (connection, TLS, AUTH, 4xx, a refused sender) fails over to the next one
at once, and a retryable failure is retried with exponential backoff and jitter within
`retry.attempts` and `retry.deadline`. A permanent rejection of the recipient or the message is
final. A reply lost after the message's final dot is never resent automatically (the server may
have queued it) unless `retry.resendAfterLostReply` is set.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..compose.message import RenderedEmail
from ..errors import ConnectorError, ErrorCode, secret_safe_logger
from ..results import AttemptRecord, SendResult, Step, succeeded_attempt
from .health import ServerHealth
from .network import AddressPolicy
from .pool import ServerPool
from .retry import backoff_delay, fails_over, final_error, log_failure
from .servers import Server, build_server
from .session import SmtpSession
from .throttle import SharedRateStore
from .transaction import Delivery

if TYPE_CHECKING:  # OAuth2 loads only for a server that uses it
    from ..config.views import ConfigView, ServerEntryView
    from .oauth import TokenProvider

log = secret_safe_logger("smtp_connector.delivery")

Prepare = Callable[[RenderedEmail, "ServerEntryView"], tuple[RenderedEmail, bytes]]
# A started first try (the email as sent, the send's start, the try's start, the deadline).
FirstTry = tuple[RenderedEmail, float, float, float]
# A started send, `[first, awaitable]`: its FirstTry and the pool's future, or None and the
# rounds' coroutine. A list, not an object (one costs ~1,000 instructions more a message), so
# `after_first` can empty it: the future holds the error, whose traceback holds the caller's
# frame, which holds the list (a cycle that would keep the connector for the collector).
Begun = list[Any]
_new = object.__new__


class SmtpDelivery:
    """Delivers prepared messages over SMTP with pooling, failover, retries and health."""

    fast_path = True  # False: every send takes the rounds (the tests compare the two paths)

    def __init__(
        self,
        config: ConfigView,
        prepare: Prepare,
        token_provider: TokenProvider | None = None,
        shared_rate: SharedRateStore | None = None,
        address_policy: AddressPolicy | None = None,
    ) -> None:
        self._config = config
        # A send's `retry.deadline` in seconds, read once: config models are pydantic's, whose
        # attribute reads pass a `__getattr__` hook (two reads, ~1,800 instructions a send).
        self._deadline_s = config.retry.deadline / 1000
        self._shared_rate = shared_rate
        self._prepare = prepare
        self._servers = [
            build_server(config, s, token_provider, address_policy) for s in config.server_list()
        ]
        # Pools hold loop-bound sockets and locks: one set per event loop that uses the connector.
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ServerPool]]
        self._pools = weakref.WeakKeyDictionary()
        # The last loop's pools, held weakly: a send finds them without a weak-key lookup.
        self._last_pools: tuple[Callable[[], object], dict[str, ServerPool]] = (_nobody, {})

    def pool(self, server_name: str, loop: asyncio.AbstractEventLoop | None = None) -> ServerPool:
        """The current loop's pool for `server_name` (created on first use). `loop`: the
        running loop, when the caller holds it (asking asyncio costs a `getpid()` on 3.11)."""
        if loop is None:
            loop = asyncio.get_running_loop()
        last_loop, pools = self._last_pools
        if last_loop() is not loop:  # another loop than the last send's (rare)
            pools = self._pools.setdefault(loop, {})
            self._last_pools = (weakref.ref(loop), pools)
        if server_name not in pools:
            server = self._find(server_name)
            pools[server_name] = ServerPool(
                server.config,
                server.session_options,
                self._config.pool,
                server.config.rate_limit,
                self._shared_rate,
            )
        return pools[server_name]

    def _find(self, name: str) -> Server:
        for server in self._servers:
            if server.name == name or server.address == name:
                return server
        raise ConnectorError(ErrorCode.INVALID_CONFIG, f"No server named {name!r} in the config.")

    async def send(self, email: RenderedEmail) -> SendResult:
        """Deliver `email`: the first try on the first server when it is active (the common
        case, with nothing allocated for retries), then rounds of failover and retries."""
        begun = self.first_try(email)
        try:
            return self.first_result(begun, await begun[1])
        except ConnectorError as error:
            return await self.after_first(email, begun, error)

    def first_try(
        self, email: RenderedEmail, loop: asyncio.AbstractEventLoop | None = None
    ) -> Begun:
        """Start a send, no coroutine of its own: round 0's first try, inlined, when the first
        server is active (no clock or attempt check can stop it first), else the rounds from
        the start. Its callers (`send`, `SmtpConnector.send`, `send_many`) await `begun[1]`
        themselves and hand what it gives to `first_result`, or its error to `after_first`.
        `loop`: the running loop, when the caller holds it (`send_many` asks once)."""
        started = time.monotonic()
        first = self._servers[0]
        deadline = started + self._deadline_s
        if not self.fast_path or first.health.disabled_until != 0.0:
            return [None, self._rounds(email, started, deadline, [], {}, set(), None)]
        prepared, data = self._prepare(email, first.config)
        start = time.monotonic()
        try:
            future = self._deliver(first, prepared, data, deadline, loop)
        except ConnectorError as error:  # as if the future had failed: the rounds go on
            future = (loop or asyncio.get_running_loop()).create_future()
            future.set_exception(error.with_traceback(None))  # no frame of this one in it
        return [(prepared, started, start, deadline), future]

    def first_result(self, begun: Begun, outcome: Delivery | SendResult) -> SendResult:
        """The send's result from what `begun`'s awaitable gave: a first try's `Delivery`, or
        the result of rounds that ran from the start. Never raises a `ConnectorError`, so a
        caller calls it inside its `try` around the await."""
        if isinstance(outcome, SendResult):  # the rounds ran from the start
            return outcome
        first: FirstTry = begun[0]
        now = time.monotonic()  # one clock read for the try's seconds and the send's duration
        result = self._succeeded(self._servers[0], first[0], outcome, now - first[2], [])
        result.duration = now - first[1]
        return result

    async def after_first(
        self, email: RenderedEmail, begun: Begun, error: ConnectorError
    ) -> SendResult:
        """What `first_try` started failed: `begun` is emptied (see `Begun`), a first try's
        `error` recorded and the rounds go on from where the full path would be (the rest of
        round 0: failover, then backoff rounds); the rounds' own error is final."""
        first: FirstTry | None = begun[0]
        begun.clear()
        try:
            if first is None:
                raise error
            prepared, started, start, deadline = first
            attempts: list[AttemptRecord] = []
            errors: dict[str, ConnectorError] = {}
            excluded: set[str] = set()
            self._failed(self._servers[0], prepared, error, start, attempts, errors, excluded)
            rest = [s for s in self._servers[1:] if s.name not in excluded]
            return await self._rounds(email, started, deadline, attempts, errors, excluded, rest)
        finally:  # `error`, raised again through this frame, would hold it: a cycle
            del error

    async def _rounds(
        self,
        email: RenderedEmail,
        started: float,
        deadline: float,
        attempts: list[AttemptRecord],
        errors: dict[str, ConnectorError],
        excluded: set[str],
        rest: list[Server] | None,
    ) -> SendResult:
        """Servers in priority order, round after round with backoff, until one accepts or
        the attempts or the deadline run out. `rest`: the servers left in round 0 after the
        fast first try (None: start round 0 from the first server)."""
        try:
            options = self._config.retry
            round_number = 0 if rest is None else 1
            if rest:
                result, _ = await self._round(email, rest, attempts, errors, excluded, deadline)
                if result is not None:
                    result.duration = time.monotonic() - started
                    return result
            while len(attempts) < options.attempts:
                candidates = [
                    s for s in self._servers if s.name not in excluded and s.health.available()
                ]
                if not candidates:
                    break
                if round_number:
                    delay = backoff_delay(options, round_number)
                    if time.monotonic() + delay > deadline:
                        break
                    await asyncio.sleep(delay)
                result, tried = await self._round(
                    email, candidates, attempts, errors, excluded, deadline
                )
                if result is not None:
                    result.duration = time.monotonic() - started
                    return result
                if not tried:
                    break
                round_number += 1
            raise final_error(errors, len(attempts), self._servers)
        finally:
            # Each error's traceback reaches the frames that hold `errors` (this one, the
            # try's, the caller's through `f_back`): emptied, it ties no cycle that would keep
            # the connector for the garbage collector (tests/delivery/test_connector_release.py).
            errors.clear()

    async def _round(
        self,
        email: RenderedEmail,
        candidates: list[Server],
        attempts: list[AttemptRecord],
        errors: dict[str, ConnectorError],
        excluded: set[str],
        deadline: float,
    ) -> tuple[SendResult | None, int]:
        """One pass over `candidates`: the result, else None and how many were tried."""
        tried = 0
        for server in candidates:
            if len(attempts) >= self._config.retry.attempts or time.monotonic() > deadline:
                break
            if not server.health.claim():
                continue  # half-open and another send is already probing it
            tried += 1
            result = await self._attempt(server, email, attempts, errors, excluded, deadline)
            if result is not None:
                return result, tried
        return None, tried

    async def _attempt(
        self,
        server: Server,
        email: RenderedEmail,
        attempts: list[AttemptRecord],
        errors: dict[str, ConnectorError],
        excluded: set[str],
        deadline: float,
    ) -> SendResult | None:
        """One try on one server; returns the result, or records the failure and returns None
        (raising when the failure is final for the whole send)."""
        prepared, data = self._prepare(email, server.config)
        start = time.monotonic()
        try:
            delivery = await self._deliver(server, prepared, data, deadline)
        except ConnectorError as error:
            self._failed(server, prepared, error, start, attempts, errors, excluded)
            return None
        seconds = time.monotonic() - start
        return self._succeeded(server, prepared, delivery, seconds, attempts)

    def _failed(
        self,
        server: Server,
        prepared: RenderedEmail,
        error: ConnectorError,
        start: float,
        attempts: list[AttemptRecord],
        errors: dict[str, ConnectorError],
        excluded: set[str],
    ) -> None:
        """Record a failed try; raises `error` when it is final for the whole send."""
        seconds = time.monotonic() - start
        attempts.append(
            AttemptRecord(
                server.name, False, seconds, error.code.value, error.smtp_code, error.message
            )
        )
        log_failure(server.name, len(attempts), prepared.message_id, error, seconds)
        error.attempts = len(attempts)
        error.message_id = prepared.message_id
        if not fails_over(error):
            server.health.mark_healthy()  # it answered; the message was the problem
            raise error
        server.health.record_failure(str(error))
        if error.stage == "after_data" and not self._config.retry.resend_after_lost_reply:
            raise error
        errors[server.name] = error
        if not error.retryable:
            excluded.add(server.name)

    def _succeeded(
        self,
        server: Server,
        prepared: RenderedEmail,
        delivery: Delivery,
        seconds: float,
        attempts: list[AttemptRecord],
    ) -> SendResult:
        """The result of a try that took `seconds` and gave `delivery` (recorded, logged)."""
        server.health.record_success()
        attempts.append(succeeded_attempt(server.name, seconds, delivery.smtp_code))
        if log.isEnabledFor(logging.INFO):  # the record's fields cost more than the check
            log.info(
                "sent",
                extra={
                    "server": server.name,
                    "attempt": len(attempts),
                    "message_id": prepared.message_id,
                    "smtp_code": delivery.smtp_code,
                    "duration": round(seconds, 6),
                },
            )
        result = _new(SendResult)  # `SendResult(...)` without its `__init__`: see results.py
        result.message_id, result.accepted = prepared.message_id, delivery.accepted
        result.server, result.response = server.address, delivery.response
        result.attempts, result.rejected = len(attempts), delivery.rejected
        result.smtp_code, result.pipelined = delivery.smtp_code, delivery.pipelined
        result.attempt_log = attempts  # not changed after a success: no copy needed
        result.usage_type, result.duration = prepared.usage_type, 0.0
        return result

    def _deliver(
        self,
        server: Server,
        email: RenderedEmail,
        data: bytes,
        deadline: float,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> asyncio.Future[Delivery]:
        """Queue the message on the server's pool; one of its connections delivers it (a
        reused connection found dead is replaced once, silently, by the pool). Everything,
        opening a connection included, ends by the send's `retry.deadline`."""
        pool = self.pool(server.name, loop)  # the future itself: no coroutine around it
        payload = email.wire_payload(data)  # not None: `data` is the email's own composition,
        crlf_only = payload is not None or email.crlf_only(data)  # so `crlf_only` holds
        return pool.submit(
            email.envelope_from,
            email.envelope_to,
            data,
            email.needs_smtputf8,
            deadline,
            crlf_only,
            payload,
        )

    async def verify(self, server_name: str | None = None) -> list[tuple[str, list[Step]]]:
        """Open (and close) a session to each server: DNS, TCP, greeting, TLS, AUTH."""
        targets = [self._find(server_name)] if server_name else self._servers
        report = []
        for server in targets:
            session = SmtpSession(server.config, server.session_options)
            try:
                steps = await session.open()
            finally:
                await session.close()
            report.append((server.name, steps))
        return report

    async def check(self, server_name: str) -> ServerHealth:
        """A real connect/TLS/AUTH to one server: success re-enables it, failure disables it."""
        server = self._find(server_name)
        try:
            await self.verify(server.name)
        except ConnectorError as error:
            server.health.record_failure(str(error))
            server.health.disable()
        else:
            server.health.mark_healthy()
        return server.health

    def health(self) -> list[dict[str, object]]:
        return [s.health.as_dict() for s in self._servers]

    async def aclose(self) -> None:
        pools = self._pools.get(asyncio.get_running_loop(), {})
        await asyncio.gather(*(pool.aclose() for pool in pools.values()))


def _nobody() -> object:
    return None
