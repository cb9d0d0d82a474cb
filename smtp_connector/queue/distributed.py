"""The PostgreSQL engine: procrastinate runs the jobs, the outbox row stays the truth.

New rows are announced in batches (`GroupDispatch`): a job's only argument is a list of
outbox row ids (never the payload, never a secret). procrastinate hands jobs out with
`SELECT … FOR UPDATE SKIP LOCKED`, wakes workers with LISTEN/NOTIFY and tracks each worker by
a heartbeat; the job claims its rows in one conditional `UPDATE` (the embedded worker's claim,
by id), so a job that runs twice (a retried stalled job, a re-announcement) finds its rows no
longer queued and does nothing. The rows of a job are delivered concurrently, at most
`concurrency` sends at a time per worker process however many jobs it runs.

A retry is a new job for the one row, scheduled at the row's next attempt time. A periodic
task (every `sweep` seconds, run by whichever worker gets it) retries the jobs of workers
whose heartbeat stopped — after first settling their rows: content never handed over →
queued again, content handed over → failed, "delivery unknown" — and re-announces queued rows
that no waiting or running job names (a crash before their announcement).

procrastinate itself (and attrs, dateutil, croniter, asgiref, psycopg_pool: 3.4 MB of idle
RSS and, with its pool's connection, ~5 % of a PostgreSQL `serve`'s start instructions) is
imported, and its pool opened, by the first thing that needs it: a worker, the first
announcement or retry, `db upgrade`. A `serve` without a worker (PostgreSQL's default) that
queues nothing never loads it; the start's check for its tables runs on the store's
connection (`require_schema(engine)`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from smtp_connector.errors import ConnectorError, ErrorCode, install_hint

from .dispatching import GroupDispatch
from .outbox import Claim, Outbox
from .pool_checks import pool_factory
from .worker import Deliverer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("smtp_connector.queue")
_JOBS_LOG = logging.getLogger("procrastinate.jobs")  # procrastinate's defer logs here

DELIVER_TASK = "smtp_connector.deliver"
# Queued rows, due for a moment, that no waiting or running job names.
_ORPHANS = """
SELECT o.id FROM outbox_messages o
 WHERE o.status = 'queued' AND o.next_attempt_at <= %(since)s
   AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                    WHERE j.task_name = %(task)s AND j.status IN ('todo', 'doing')
                      AND (j.args -> 'message_ids' ? o.id OR j.args ->> 'message_id' = o.id))
 LIMIT 1000
"""
ANNOUNCE_BATCH = 64  # rows per job at most
ANNOUNCE_INTERVAL = 0.02  # seconds between announcements under load (see dispatching.py)
# A job drains rows due this long or longer after its own (see `_deliver`): younger ones are
# on their way in their own jobs, and taking them left those jobs empty (a fetch, a claim
# and a finish for nothing) and every batch small (issue 26 §1).
OVERDUE = 2.0
QUEUE_NAME = "smtp_connector"
_SCHEMA_PRESENT = "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"


def conninfo(database_url: str) -> str:
    """libpq's form of the store's URL (procrastinate speaks psycopg directly)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _missing() -> ConnectorError:
    return ConnectorError(
        ErrorCode.INVALID_CONFIG,
        "Queued sending on PostgreSQL runs on procrastinate: " + install_hint("postgres"),
    )


def _procrastinate() -> Any:
    try:
        import procrastinate
    except ImportError:
        raise _missing() from None
    return procrastinate


class ProcrastinateEngine:
    """Dispatches outbox rows as procrastinate jobs; runs workers that deliver them."""

    def __init__(self, database_url: str, outbox: Outbox, *, sweep: float = 10.0) -> None:
        if importlib.util.find_spec("procrastinate") is None:
            raise _missing()  # at once, as before it was imported on first use
        self.database_url = database_url
        self.outbox = outbox
        self.sweep = sweep
        self.stalled_timeout = 30.0
        self.drain_for = 5.0
        self.deliverer: Deliverer | None = None
        self._announcer = GroupDispatch(self._announce, ANNOUNCE_BATCH, ANNOUNCE_INTERVAL)
        self._concurrency = 16  # sends in flight at most; run_worker sets it
        self._slots = asyncio.Semaphore(self._concurrency)
        self._admit = asyncio.Lock()  # one job takes its slots at a time (see _attempts)
        self._opening = asyncio.Lock()  # the first users of the app open it once
        self._app: Any = None
        self._deliver_task: Any = None
        self._open = False

    @property
    def app(self) -> Any:
        """procrastinate's `App` with the deliver and sweep tasks, built on first use."""
        if self._app is None:
            self._build(_procrastinate())
        return self._app

    def _build(self, procrastinate: Any) -> None:
        # The outbox row is the truth; a job lost by a database crash is re-dispatched by the
        # sweep and a job run twice finds its row no longer queued, so procrastinate's own
        # commits need not wait for the disk.
        connector = procrastinate.PsycopgConnector(
            conninfo=conninfo(self.database_url), min_size=1, max_size=8,
            kwargs={"options": "-c synchronous_commit=off"}, pool_factory=pool_factory,
        )  # fmt: skip
        app = procrastinate.App(connector=connector)
        self._deliver_task = app.task(name=DELIVER_TASK, queue=QUEUE_NAME)(self._deliver)
        sweep_task = app.task(name="smtp_connector.sweep", queue=QUEUE_NAME)(self._sweep)
        app.periodic(cron=sweep_cron(self.sweep), periodic_id="sweep")(sweep_task)
        self._app = app

    async def open(self) -> None:
        """Build and open the app once, whoever asks first (a lock: the first announcement
        and a retry may ask together). procrastinate is imported on a thread of its own, so
        the requests the loop is serving meanwhile do not wait for the import."""
        async with self._opening:
            if self._open:
                return
            if self._app is None:
                procrastinate = await asyncio.to_thread(_procrastinate)
                if self._app is None:  # not built meanwhile by a synchronous `app`
                    self._build(procrastinate)
            await self._app.open_async()
            self._open = True

    async def apply_schema(self) -> bool:
        """Create procrastinate's tables if they are not there yet; True when it did."""
        await self.open()
        connector = self.app.connector
        row = await connector.execute_query_one_async(_SCHEMA_PRESENT)
        if row["present"]:
            return False
        await self.app.schema_manager.apply_schema_async()
        return True

    async def require_schema(self, engine: AsyncEngine | None = None) -> None:
        """Refuse to start on a database without procrastinate's tables. On `engine` (the
        store's, connected already by its own checks) when given: `serve` then neither
        imports procrastinate nor opens its pool to ask."""
        if engine is None:
            await self.open()
            row = await self.app.connector.execute_query_one_async(_SCHEMA_PRESENT)
            present = row["present"]
        else:
            async with engine.connect() as connection:
                present = (await connection.execute(text(_SCHEMA_PRESENT))).scalar_one()
        if not present:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                "The database has no procrastinate tables yet: run `smtp-connector db upgrade "
                "--database-url ...` once.",
            )

    async def dispatch(self, message_id: str) -> None:
        """Announce a new row (in the next batch; returns at once)."""
        self._announcer.add(message_id)

    async def _announce(self, message_ids: list[str]) -> None:
        """One job for these rows. procrastinate's `defer_async` builds each job's log
        context (every field, and the call with every id's repr) for a DEBUG and an INFO
        line, which `serve` does not show unless asked (its logging configures our loggers
        and uvicorn's); that was a tenth of a defer's CPU (issue 26 §1). With procrastinate's
        INFO off, the job goes straight to its job manager: the same job, no log lines."""
        if not self._open:
            await self.open()
        deferrer = self._deliver_task.configure()
        if _JOBS_LOG.isEnabledFor(logging.INFO):
            await deferrer.defer_async(message_ids=message_ids)
            return
        job = deferrer.make_new_job(message_ids=message_ids)
        await deferrer.job_manager.defer_job_async(job=job, connection=deferrer.connection)

    async def dispatch_at(self, message_id: str, at: float) -> None:
        """Defer a job for one row at `at` (epoch seconds): a retry; one waiting per row."""
        options = {"queueing_lock": message_id, "schedule_at": datetime.fromtimestamp(at, UTC)}
        if not self._open:
            await self.open()
        try:
            await self._deliver_task.configure(**options).defer_async(message_ids=[message_id])
        except _procrastinate().exceptions.AlreadyEnqueued:
            pass  # a job for this row is already waiting

    async def _deliver(
        self, message_ids: list[str] | None = None, message_id: str | None = None
    ) -> None:
        """The job: claim its rows that are still queued and deliver them concurrently, then
        keep going with rows due for `OVERDUE` seconds or more while there are any (for at
        most `drain_for` seconds): rows put back in the queue by a recovery, whose own job is
        gone or still held by a dead worker, or a backlog, need not wait for the sweep.
        (`message_id`: a job deferred by an earlier version, one row each.)"""
        assert self.deliverer is not None, "run_worker sets the deliverer"
        ids = list(message_ids or ()) + ([message_id] if message_id else [])
        claims = await self.outbox.claim_ids(ids, self._worker_name)
        deadline = time.monotonic() + self.drain_for
        while claims:
            await self._attempts(claims)
            if time.monotonic() >= deadline:
                return
            claims = await self.outbox.claim_overdue(self._worker_name, ANNOUNCE_BATCH, OVERDUE)

    async def _attempts(self, claims: list[Claim]) -> None:
        """Deliver these claims, at most `concurrency` sends in flight in this worker. A job
        takes the slots for a chunk of its claims at once and starts them together: taken one
        by one, busy slots let the attempts out one at a time, and each then read its app's
        versions, marked and finished in a transaction of its own (issue 26 §1: 1.5 version
        reads per message); started together they share one read, one mark statement and one
        completion statement."""
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[None]] = []
        try:
            for start in range(0, len(claims), self._concurrency):
                chunk = claims[start : start + self._concurrency]
                await self._take_slots(len(chunk))
                tasks += [loop.create_task(self._attempt(claim)) for claim in chunk]
        finally:
            await asyncio.gather(*tasks)

    async def _take_slots(self, count: int) -> None:
        """`count` slots, taken together (one job at a time: two jobs each holding part of
        what they need would wait for each other forever)."""
        taken = 0
        async with self._admit:
            try:
                while taken < count:
                    await self._slots.acquire()
                    taken += 1
            except BaseException:
                for _ in range(taken):
                    self._slots.release()
                raise

    async def _attempt(self, claim: Claim) -> None:
        """One attempt in a slot taken for it (released here)."""
        assert self.deliverer is not None
        try:
            end = await self.deliverer.attempt(claim)
        finally:
            self._slots.release()
        if end is not None and end.status == "queued" and end.next_attempt_at is not None:
            await self.dispatch_at(claim.id, end.next_attempt_at)

    async def _sweep(self, timestamp: int) -> None:
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(
            task_name=DELIVER_TASK, seconds_since_heartbeat=self.stalled_timeout
        )
        ids = [str(i) for job in stalled for i in _row_ids(job.task_kwargs)]
        if ids:
            counts = await self.outbox.recover_rows(ids)
            log.warning(
                "retrying %d job(s) of workers whose heartbeat stopped: %d message(s) queued "
                "again, %d may have been delivered (not sent again)",
                len(stalled), counts["requeued"], counts["unknown"],
                extra={"jobs": len(stalled), **counts},
            )  # fmt: skip
        for job in stalled:
            await manager.retry_job(job)
        counts = await self.outbox.recover()
        if any(counts.values()):
            log.warning("recovered outbox rows", extra=counts)
        rows = await self.app.connector.execute_query_all_async(
            _ORPHANS, since=time.time() - 1.0, task=DELIVER_TASK
        )
        for row in rows:  # queued rows no job names (a crash before their announcement)
            self._announcer.add(row["id"])
        await self._announcer.flush()

    async def run_worker(
        self, deliverer: Deliverer, *, name: str, concurrency: int, poll: float = 1.0,
        install_signal_handlers: bool = True,
    ) -> None:  # fmt: skip
        """Run a worker until it is stopped (SIGTERM/SIGINT, or the task is cancelled)."""
        self.deliverer = deliverer
        self._worker_name = name
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
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
        await self._announcer.flush()
        if self._open:
            await self.app.close_async()
            self._open = False


def sweep_cron(seconds: float) -> str:
    """procrastinate's cron for "every `seconds`": croniter, which procrastinate uses, reads a
    sixth field as the *seconds* (`"* * * * * */5"`); `"*/5 * * * * *"` is every second of
    every fifth minute, which left a dead worker's jobs waiting up to four minutes for the
    sweep. A minute or more is whole minutes of the five-field form (59 at most)."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"* * * * * */{whole}"
    return f"*/{min(59, whole // 60)} * * * *"


def _row_ids(kwargs: dict[str, Any]) -> list[Any]:
    """The outbox row ids a job names (a batch, or one row from an earlier version)."""
    return [*kwargs.get("message_ids", ()), *filter(None, [kwargs.get("message_id")])]
