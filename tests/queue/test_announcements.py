"""An announcement of new rows (queue/distributed.py `_announce`) skips procrastinate's log
context when procrastinate's INFO is off: the job it stores must be the job `defer_async`
stores, and with procrastinate's logging on, its log lines must still be written. Real
PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from test_merged_writes import open_queue

from smtp_connector.queue.distributed import DELIVER_TASK, ProcrastinateEngine

_COLUMNS = "queue_name, task_name, priority, lock, queueing_lock, args::text, scheduled_at, status"


async def _jobs(engine: ProcrastinateEngine) -> list[Any]:
    rows = await engine.app.connector.execute_query_all_async(
        f"SELECT {_COLUMNS} FROM procrastinate_jobs WHERE task_name = %(task)s ORDER BY id",
        task=DELIVER_TASK,
    )
    return [tuple(row.values()) for row in rows]


@pytest.mark.parametrize("level", [logging.WARNING, logging.DEBUG])
async def test_the_job_is_the_one_defer_async_stores(
    queue_url_postgres: str, caplog: pytest.LogCaptureFixture, level: int
) -> None:
    caplog.set_level(level, logger="procrastinate.jobs")
    queue = await open_queue(queue_url_postgres)
    engine = ProcrastinateEngine(queue_url_postgres, queue.outbox)
    try:
        await engine.apply_schema()
        ids = ["0" * 32, "f" * 32]
        await engine._announce(ids)
        lines = [r.getMessage() for r in caplog.records if r.name == "procrastinate.jobs"]
        await engine._deliver_task.defer_async(message_ids=ids)  # procrastinate's own way
        announced, deferred = await _jobs(engine)
        assert announced == deferred
        if level == logging.DEBUG:  # procrastinate's lines, as defer_async writes them
            assert lines == ["About to defer 1 job", "Deferred 1 job"]
        else:
            assert lines == []
    finally:
        await engine.aclose()
        await queue.aclose()
