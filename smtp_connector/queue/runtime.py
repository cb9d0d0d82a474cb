"""`Queue`: the outbox, its engine and its worker, assembled for `serve` and `worker`.

    queue = Queue(database_url, QueueOptions())
    service = await Service.open(database_url, key, sender=queue.sender_factory)
    await queue.start(worker=True)        # serve: embedded worker on SQLite
    ...
    await service.aclose()                # closes the queue too (it is the service's sender)

Engines: `embedded` (the default on SQLite: the worker runs inside this process, woken at once
by each new message) and `procrastinate` (the default on PostgreSQL: any number of
`smtp-connector worker` processes on any machines; `serve` only defers jobs unless asked to
run a worker too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Literal

from smtp_connector.store.urls import async_url, is_sqlite

from .database import QueueDatabase
from .distributed import ProcrastinateEngine
from .outbox import Outbox
from .policy import RetryPolicy
from .sender import QueueSender
from .worker import Deliverer, DeliverNow, EmbeddedWorker, worker_name

log = logging.getLogger("smtp_connector.queue")

EngineName = Literal["auto", "embedded", "procrastinate"]


@dataclass(frozen=True)
class QueueOptions:
    engine: EngineName = "auto"
    concurrency: int = 16  # attempts in flight per worker
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    poll: float = 1.0  # seconds between looks for due retries (new messages wake at once)
    sweep: float = 5.0  # seconds between recoveries of rows whose worker died


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Queue:
    """One database's outbox with its engine; also the `Dispatcher` of its `QueueSender`."""

    def __init__(self, database_url: str, options: QueueOptions | None = None) -> None:
        self.options = options or QueueOptions()
        sqlite = is_sqlite(async_url(database_url))
        engine = self.options.engine
        self.engine: EngineName = engine if engine != "auto" else (
            "embedded" if sqlite else "procrastinate"
        )  # fmt: skip
        self.db = QueueDatabase(database_url, pool_size=self.options.concurrency + 4)
        # On SQLite the per-message writes are pre-written driver SQL (sqlite_outbox.py,
        # imported here: `sqlite3` is not imported on PostgreSQL).
        outbox_class = Outbox
        if self.db.is_sqlite:
            from .sqlite_outbox import SqliteOutbox

            outbox_class = SqliteOutbox
        self.outbox = outbox_class(self.db, self.options.policy.lease)
        self.distributed = (
            ProcrastinateEngine(database_url, self.outbox, sweep=self.options.sweep)
            if self.engine == "procrastinate"
            else None
        )
        self.deliverer: Deliverer | None = None
        self.worker: EmbeddedWorker | None = None
        self._worker_task: asyncio.Task[None] | None = None

    def sender_factory(self, deliver_now: DeliverNow) -> QueueSender:
        """For `Service.open(..., sender=queue.sender_factory)`."""
        self.deliverer = Deliverer(self.outbox, deliver_now, self.options.policy)
        return QueueSender(self.outbox, self, self.options.policy)

    async def start(self, *, worker: bool) -> None:
        """With `worker`, deliver in this process too (in the background). PostgreSQL's engine
        is opened here for its worker (a failure fails the start), or else by the first
        announcement (distributed.py)."""
        if not worker:
            return
        if self.distributed is not None:
            await self.distributed.open()
            self._worker_task = asyncio.get_running_loop().create_task(
                self.run_worker(install_signal_handlers=False)
            )
            return
        self.worker = self._embedded()
        await self._recover_local()
        self.worker.start()

    def _embedded(self, name: str | None = None) -> EmbeddedWorker:
        assert self.deliverer is not None, "open the Service with sender=queue.sender_factory"
        o = self.options
        return EmbeddedWorker(self.deliverer, concurrency=o.concurrency, poll=o.poll,
                              sweep=o.sweep, name=name)  # fmt: skip

    async def _recover_local(self) -> None:
        counts = await self.outbox.recover_dead_local(socket.gethostname(), pid_alive)
        if any(counts.values()):
            log.warning("settled the rows of stopped workers on this host", extra=counts)

    async def run_worker(
        self, *, name: str | None = None, install_signal_handlers: bool = True
    ) -> None:
        """Deliver in the foreground until cancelled (or, with procrastinate, a signal)."""
        assert self.deliverer is not None, "open the Service with sender=queue.sender_factory"
        name = name or worker_name(self.engine)
        await self._recover_local()
        if self.distributed is not None:
            await self.distributed.run_worker(
                self.deliverer, name=name, concurrency=self.options.concurrency,
                poll=self.options.poll, install_signal_handlers=install_signal_handlers,
            )  # fmt: skip
            return
        self.worker = self._embedded(name)
        try:
            await self.worker.run()
        finally:
            await self.worker.stop()

    async def dispatch(self, message_id: str) -> None:
        if self.distributed is not None:
            await self.distributed.dispatch(message_id)
        elif self.worker is not None:
            self.worker.notify()

    async def aclose(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        if self._worker_task is not None:
            self._worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker_task
        if self.distributed is not None:
            await self.distributed.aclose()
        await self.db.dispose()
