"""A worker that died on another machine while it held jobs: a worker still running retries
those jobs, and delivers their messages, at its next sweep (procrastinate's heartbeat route; a
dead worker on this host is settled at the next start instead, tests/queue/test_crash.py). Real
PostgreSQL, a real `smtp-connector worker` process with the default sweep, aiosmtpd. And the
sweep's schedule as procrastinate's own periodic deferrer reads it: every `sweep` seconds, not
every second of every `sweep`-th minute (the 6-field cron's seconds are its *last* field).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from procrastinate.periodic import PeriodicDeferrer
from test_crash import enqueue, received_per_recipient, settled, smtp, start_worker, stop

from smtp_connector.queue.distributed import DELIVER_TASK, ProcrastinateEngine, sweep_cron
from smtp_connector.queue.runtime import QueueOptions

__all__ = ["smtp"]  # the aiosmtpd fixture, shared with the crash tests

ELSEWHERE = "procrastinate@elsewhere.example:4242:0dead"  # another host: no local recovery


def die_elsewhere_holding_everything(url: str) -> tuple[int, int]:
    """What a worker on another machine leaves when it is switched off mid-run: every job
    'doing' under its worker row, whose heartbeat stopped an hour ago, and every row claimed
    by it (content not handed over yet). Returns (jobs, rows)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - interval '1 hour') RETURNING id"
        ).fetchone()
        assert row is not None
        jobs = conn.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s "
            "WHERE task_name = %s AND status = 'todo'",
            (row[0], DELIVER_TASK),
        ).rowcount
        rows = conn.execute(
            "UPDATE outbox_messages SET status = 'sending', worker_id = %s, "
            "attempts = attempts + 1, lease_until = %s WHERE status = 'queued'",
            (ELSEWHERE, time.time() + 3600),
        ).rowcount
    return jobs, rows


async def test_a_dead_workers_jobs_are_retried_at_the_next_sweep(
    queue_url_postgres: str, tmp_path: Path, smtp: object
) -> None:
    total = 20
    queue = await enqueue(queue_url_postgres, smtp.port, total)  # type: ignore[attr-defined]
    log = tmp_path / "worker.log"
    try:
        jobs, rows = die_elsewhere_holding_everything(queue_url_postgres)
        assert jobs >= 1 and rows == total
        worker = start_worker(queue_url_postgres, log)
        try:
            # The lease (an hour) never runs out here: only the sweep can settle these rows.
            # The default sweep is 5 s; the broken schedule waited for the next fifth minute.
            outbox = await settled(queue, timeout=45)
        finally:
            stop(worker)
    finally:
        await queue.aclose()
    assert Counter(r.status for r in outbox) == Counter({"sent": total})
    received = received_per_recipient(smtp)  # type: ignore[arg-type]
    assert received == Counter({f"u{i}@example.org": 1 for i in range(total)})
    # The operator reads it in the worker's own log (its default level is warning).
    text = log.read_text()
    assert (
        f"retrying {jobs} job(s) of workers whose heartbeat stopped: {total} message(s) "
        "queued again, 0 may have been delivered (not sent again)"
    ) in text, text


@pytest.mark.parametrize("sweep", [1.0, 2.0, 5.0, 7.0, 10.0, 30.0, 45.0, 60.0, 90.0, 300.0])
def test_the_sweep_runs_every_sweep_seconds(sweep: float) -> None:
    engine = ProcrastinateEngine("postgresql://nobody@127.0.0.1/none", outbox=None, sweep=sweep)  # type: ignore[arg-type]
    registry = engine.app.periodic_registry  # built without connecting
    (task,) = registry.periodic_tasks.values()
    start = 1_796_637_000  # any instant; a ten-minute window from it
    ticks = list(PeriodicDeferrer(registry).get_timestamps(task, since=start, until=start + 600))
    gaps = [b - a for a, b in zip([start, *ticks], ticks, strict=False)]
    step = sweep if sweep < 60 else (sweep // 60) * 60
    assert max(gaps) <= step, (sweep_cron(sweep), gaps[:8])
    assert len(ticks) >= 600 // step - 1


def test_the_default_sweep_is_what_the_schedule_was_measured_at() -> None:
    assert QueueOptions().sweep == 5.0
    assert sweep_cron(QueueOptions().sweep) == "* * * * * */5"
