"""The PostgreSQL engine: procrastinate runs the jobs, the outbox row stays the truth.

Each queued message gets one procrastinate job whose only argument is the outbox row's id
(never the payload, never a secret). procrastinate hands jobs out with `SELECT … FOR UPDATE
SKIP LOCKED`, wakes workers with LISTEN/NOTIFY and tracks each worker by a heartbeat; the
job then claims its row with the same conditional `UPDATE` the embedded worker uses, so a
job that runs twice (a retried stalled job, a re-dispatch) finds the row no longer queued
and does nothing.

A retry is a new job scheduled at the row's next attempt time. A periodic task (every
`sweep` seconds, run by whichever worker gets it) retries the jobs of workers whose heartbeat
stopped — after first settling their rows: content never handed over → queued again,
content handed over → failed, "delivery unknown" — and re-dispatches queued rows that have
no job (a crash between the row's commit and the job's). Rows a dead worker took on behalf
of other jobs (see `_deliver`) are settled when their lease runs out, or at once when a
worker restarts on the same host.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from smtp_connector.errors import ConnectorError, ErrorCode, install_hint

from .outbox import Claim, Outbox
from .worker import Deliverer

log = logging.getLogger("smtp_connector.queue")

DELIVER_TASK = "smtp_connector.deliver"
# Queued, due rows with no job waiting or running for them.
_ORPHANS = """
SELECT o.id FROM outbox_messages o
 WHERE o.status = 'queued' AND o.next_attempt_at <= %(since)s
   AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                    WHERE j.queueing_lock = o.id AND j.status IN ('todo', 'doing'))
 LIMIT 1000
"""
QUEUE_NAME = "smtp_connector"


def conninfo(database_url: str) -> str:
    """libpq's form of the store's URL (procrastinate speaks psycopg directly)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _procrastinate() -> Any:
    try:
        import procrastinate
    except ImportError:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            "Queued sending on PostgreSQL runs on procrastinate: " + install_hint("postgres"),
        ) from None
    return procrastinate


class ProcrastinateEngine:
    """Dispatches outbox rows as procrastinate jobs; runs workers that deliver them."""

    def __init__(self, database_url: str, outbox: Outbox, *, sweep: float = 10.0) -> None:
        procrastinate = _procrastinate()
        self.outbox = outbox
        self.sweep = sweep
        self.stalled_timeout = 30.0
        self.drain_for = 5.0
        self.deliverer: Deliverer | None = None
        # The outbox row is the truth; a job lost by a database crash is re-dispatched by the
        # sweep and a job run twice finds its row no longer queued, so procrastinate's own
        # commits need not wait for the disk.
        connector = procrastinate.PsycopgConnector(
            conninfo=conninfo(database_url), min_size=1, max_size=8,
            kwargs={"options": "-c synchronous_commit=off"},
        )  # fmt: skip
        self.app = procrastinate.App(connector=connector)
        self._deliver_task = self.app.task(name=DELIVER_TASK, queue=QUEUE_NAME)(self._deliver)
        seconds = max(1, int(sweep))
        sweep_task = self.app.task(name="smtp_connector.sweep", queue=QUEUE_NAME)(self._sweep)
        self.app.periodic(cron=f"*/{seconds} * * * * *", periodic_id="sweep")(sweep_task)
        self._open = False

    async def open(self) -> None:
        if not self._open:
            await self.app.open_async()
            self._open = True

    async def apply_schema(self) -> bool:
        """Create procrastinate's tables if they are not there yet; True when it did."""
        await self.open()
        connector = self.app.connector
        row = await connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
        )
        if row["present"]:
            return False
        await self.app.schema_manager.apply_schema_async()
        return True

    async def require_schema(self) -> None:
        """Refuse to start a worker on a database without procrastinate's tables."""
        await self.open()
        row = await self.app.connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
        )
        if not row["present"]:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                "The database has no procrastinate tables yet: run `smtp-connector db upgrade "
                "--database-url ...` once.",
            )

    async def dispatch(self, message_id: str, at: float | None = None) -> None:
        """Defer the row's job (at `at`, epoch seconds); one waiting job per row at most."""
        options: dict[str, Any] = {"queueing_lock": message_id}
        if at is not None:
            options["schedule_at"] = datetime.fromtimestamp(at, UTC)
        try:
            await self._deliver_task.configure(**options).defer_async(message_id=message_id)
        except _procrastinate().exceptions.AlreadyEnqueued:
            pass  # a job for this row is already waiting

    async def _deliver(self, message_id: str) -> None:
        """The job: deliver its row, then keep this slot busy with other due rows while
        there are any (for at most `drain_for` seconds). Those rows' own jobs then find them
        no longer queued and end at once: a job per message keeps procrastinate's retries,
        stall handling and visibility, while delivery is not held to the pace at which a
        worker fetches jobs one by one."""
        assert self.deliverer is not None, "run_worker sets the deliverer"
        claim = await self.outbox.claim(message_id, self._worker_name)
        if claim is not None:
            await self._attempt(claim)
        deadline = time.monotonic() + self.drain_for
        while time.monotonic() < deadline:
            claims = await self.outbox.claim_due(self._worker_name, 1)
            if not claims:
                return
            await self._attempt(claims[0])

    async def _attempt(self, claim: Claim) -> None:
        assert self.deliverer is not None
        end = await self.deliverer.attempt(claim)
        if end is not None and end.status == "queued":
            await self.dispatch(claim.id, end.next_attempt_at)

    async def _sweep(self, timestamp: int) -> None:
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(
            task_name=DELIVER_TASK, seconds_since_heartbeat=self.stalled_timeout
        )
        ids = [job.task_kwargs.get("message_id") for job in stalled]
        if ids:
            counts = await self.outbox.recover_rows([str(i) for i in ids if i])
            log.warning("stalled jobs of dead workers", extra={"jobs": len(ids), **counts})
        for job in stalled:
            await manager.retry_job(job)
        counts = await self.outbox.recover()
        if any(counts.values()):
            log.warning("recovered outbox rows", extra=counts)
        rows = await self.app.connector.execute_query_all_async(_ORPHANS, since=time.time())
        for row in rows:  # queued rows without a job (a crash between the two commits)
            await self.dispatch(row["id"])

    async def run_worker(
        self, deliverer: Deliverer, *, name: str, concurrency: int, poll: float = 1.0,
        install_signal_handlers: bool = True,
    ) -> None:  # fmt: skip
        """Run a worker until it is stopped (SIGTERM/SIGINT, or the task is cancelled)."""
        self.deliverer = deliverer
        self._worker_name = name
        await self.open()
        await self.app.run_worker_async(
            name=name,
            queues=[QUEUE_NAME],
            concurrency=concurrency,
            fetch_job_polling_interval=poll,
            listen_notify=True,
            delete_jobs="successful",
            install_signal_handlers=install_signal_handlers,
            update_heartbeat_interval=min(10.0, self.stalled_timeout / 3),
            stalled_worker_timeout=self.stalled_timeout,
        )

    _worker_name = "procrastinate"

    async def aclose(self) -> None:
        if self._open:
            await self.app.close_async()
            self._open = False
