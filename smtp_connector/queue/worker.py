"""Delivering claimed messages: one attempt (`Deliverer`) and the embedded worker loop.

An attempt sends through the store's own delivery path (`service.messages.deliver_now`: the
app's current definitions, failover by priority, the library's retries), with the library's
checkpoint set so that the row is marked "content handed to the server" in the database
before the message's bytes leave. The outcome is then applied in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from smtp_connector import ConnectorError, ErrorCode
from smtp_connector.delivery.checkpoint import reset_checkpoint, set_checkpoint
from smtp_connector.store import SendJob, SendOutcome
from smtp_connector.store.hints import error_fields

from .outbox import Claim, Finish, LeaseLost, Outbox
from .policy import RetryPolicy
from .recovery import EXPIRED_ERROR

log = logging.getLogger("smtp_connector.queue")

DeliverNow = Callable[[SendJob], Awaitable[SendOutcome]]


def worker_name(prefix: str = "worker") -> str:
    """Unique across machines and restarts: host, pid and a random suffix."""
    return f"{prefix}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def error_view(error: ConnectorError) -> dict[str, object]:
    """A queued message's lastError: the native API's error fields (store/hints.py, as a
    definition's lastError) and the stage it failed at."""
    return {**error_fields(error), "stage": error.stage}


@dataclass
class _Gate:
    passed: bool = False
    refused: BaseException | None = None


class Deliverer:
    """Runs one attempt of a claimed message and records its outcome."""

    def __init__(self, outbox: Outbox, deliver_now: DeliverNow, policy: RetryPolicy) -> None:
        self.outbox = outbox
        self._deliver_now = deliver_now
        self.policy = policy

    async def attempt(self, claim: Claim) -> Finish | None:
        """Deliver `claim`; returns how the attempt ended (None when the row was taken over)."""
        # The claim's moment is the attempt's start (`Claim.started`: the claim's own clock
        # reading on SQLite, the row's arrival here elsewhere): no clock read of its own.
        if claim.expires_at <= claim.started:
            end = Finish("abandoned", "abandoned", last_error=EXPIRED_ERROR)
            return end if await self.outbox.finish(claim, end) else None
        gate = _Gate()

        async def checkpoint() -> None:
            try:
                await self.outbox.mark_data(claim)
            except BaseException as exc:
                gate.refused = exc
                raise
            gate.passed = True

        job = SendJob(claim.app_id, claim.recipient, claim.usage_type, claim.payload,
                      claim.locale, claim.definition_ids, versions=claim.versions)  # fmt: skip
        try:
            # `before_message_data(checkpoint)` without its generator (checkpoint.py).
            token = set_checkpoint(checkpoint)
            try:
                outcome = await self._deliver_now(job)
            finally:
                reset_checkpoint(token)
        except ConnectorError as failure:
            error = failure
            if isinstance(gate.refused, LeaseLost):
                log.warning("lease lost before DATA; not sent", extra={"outbox_id": claim.id})
                return None
            if gate.refused is not None:  # the database failed us before DATA: nothing sent
                error = ConnectorError(ErrorCode.CONNECTION_FAILED,
                                       "Not sent: the queue database was unavailable before "
                                       "DATA; retrying.", retryable=True, stage="data")  # fmt: skip
            return await self._failed(claim, error)
        except Exception as exc:  # the store could not be read, etc.: nothing was sent
            log.exception("attempt failed before sending", extra={"outbox_id": claim.id})
            error = ConnectorError(ErrorCode.CONNECTION_FAILED,
                                   f"Not sent: {type(exc).__name__} before delivery; retrying.",
                                   retryable=True, stage="connect")  # fmt: skip
            return await self._failed(claim, error)
        result = outcome.result
        end = Finish(
            "sent", "sent",
            message_id=result.message_id if result else None,
            server=result.server if result else None,
            definition_id=outcome.definition_id,
        )  # fmt: skip
        if not await self.outbox.finish(claim, end):
            log.error("sent, but the row was taken over meanwhile", extra={"outbox_id": claim.id})
            return None
        return end

    async def _failed(self, claim: Claim, error: ConnectorError) -> Finish | None:
        now = time.time()
        decision = self.policy.decide(error, claim.attempt, claim.max_attempts, now,
                                      claim.expires_at)  # fmt: skip
        last = error_view(error)
        if decision.next == "retry":
            end = Finish("queued", "retry", next_attempt_at=decision.at, last_error=last)
        elif decision.next == "unknown":
            last |= {"deliveryUnknown": True}
            end = Finish("failed", "unknown", last_error=last)
        else:
            end = Finish(decision.next, decision.next, last_error=last)
        if not await self.outbox.finish(claim, end, detail=decision.reason or None):
            return None
        return end


class EmbeddedWorker:
    """Claims due rows and delivers them, at most `concurrency` at a time, in this process.

    Woken at once by `notify()` (a new message from this process); polls every `poll`
    seconds for retries that came due and messages enqueued by other processes, and runs
    `recover()` every `sweep` seconds for rows whose worker died."""

    def __init__(
        self, deliverer: Deliverer, *, concurrency: int = 16, poll: float = 1.0,
        sweep: float = 5.0, name: str | None = None,
    ) -> None:  # fmt: skip
        self.deliverer = deliverer
        self.outbox = deliverer.outbox
        self.concurrency = concurrency
        self.poll = poll
        self.sweep = sweep
        self.name = name or worker_name("embedded")
        # Claim when half the slots are free (or none is busy), not at each free slot: a claim
        # is a transaction and its batch shares one read of each app's versions
        # (store/shared_reads.py), so claiming one row per finished send cost both per message.
        self._claim_at = max(1, concurrency // 2)
        self._wake = asyncio.Event()
        # Attempts in flight, each task with its claim's id (for `_done`'s log line).
        self._active: dict[asyncio.Task[Finish | None], str] = {}
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """A new message: wake the loop if it may claim now (else a finishing send will)."""
        if self._claimable():
            self._wake.set()

    def _claimable(self) -> bool:
        free = self.concurrency - len(self._active)
        return free >= self._claim_at or (free > 0 and not self._active)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name=self.name)

    async def run(self) -> None:
        next_sweep = 0.0
        while not self._stopping:
            if time.monotonic() >= next_sweep:
                await self._recover()
                next_sweep = time.monotonic() + self.sweep
            free = self.concurrency - len(self._active)
            claims: list[Claim] = []
            if self._claimable():
                try:
                    claims = await self.outbox.claim_due(self.name, free)
                except Exception:
                    log.exception("claiming failed; retrying in %.1fs", self.poll)
            for claim in claims:
                # The attempt is the task: no coroutine around it per message (`_done` logs
                # what `attempt` could not record).
                task = asyncio.get_running_loop().create_task(self.deliverer.attempt(claim))
                self._active[task] = claim.id
                task.add_done_callback(self._done)
            if claims and len(claims) == free:
                continue  # slots full: the first to finish wakes us
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()

    async def _recover(self) -> None:
        try:
            counts = await self.outbox.recover()
        except Exception:
            log.exception("recovering stale rows failed")
            return
        if any(counts.values()):
            log.warning("recovered outbox rows", extra=counts)

    def _done(self, task: asyncio.Task[Finish | None]) -> None:
        outbox_id = self._active.pop(task, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            # The outcome could not be recorded: the lease runs out and recover() decides.
            log.error("recording an attempt failed", exc_info=error,
                      extra={"outbox_id": outbox_id})  # fmt: skip
        if self._claimable():
            self._wake.set()  # enough slots free for the next claim

    async def stop(self, grace: float = 30.0) -> None:
        """Stop claiming; let attempts in flight finish for up to `grace` seconds."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._active:
            await asyncio.wait(set(self._active), timeout=grace)
        for task in set(self._active):
            task.cancel()
