"""The embedded worker runs each attempt as its own task, with no coroutine around it
(queue/worker.py): an attempt whose outcome cannot be recorded is logged with its row's id and
its error, as the wrapper logged it, the worker goes on claiming, and the row is left to its
lease (recovery decides); on a real SQLite outbox."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from queue_support import sqlite_outbox_in
from waiting import eventually

from smtp_connector.queue.outbox import Claim, Finish, NewMessage
from smtp_connector.queue.policy import RetryPolicy
from smtp_connector.queue.worker import Deliverer, EmbeddedWorker
from smtp_connector.store import SendJob, SendOutcome


class _Unrecorded(Deliverer):
    """Records nothing for the first message: its `attempt` raises."""

    broken: str | None = None

    async def attempt(self, claim: Claim) -> Finish | None:
        if self.broken in (None, claim.id):
            self.broken = claim.id
            raise RuntimeError("the outcome could not be written")
        return await super().attempt(claim)


async def test_an_attempt_that_cannot_be_recorded_is_logged_and_the_worker_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = sqlite_outbox_in(tmp_path)

    async def deliver_now(job: SendJob) -> SendOutcome:
        return SendOutcome("sent")

    deliverer = _Unrecorded(box, deliver_now, RetryPolicy())
    worker = EmbeddedWorker(deliverer, concurrency=1, poll=0.05, sweep=60.0)
    caplog.set_level(logging.ERROR, logger="smtp_connector.queue")
    try:
        news = [NewMessage("app", ("d1",), f"u{i}@x.org", "SignIn", {}, None, 3, 9e9)
                for i in range(2)]  # fmt: skip
        ids = [(await box.enqueue(new))[0] for new in news]
        worker.start()
        deadline = time.monotonic() + 60  # the worker's thread, however loaded the machine
        while True:
            rows = {i: (await box.get(i)).status for i in ids}
            if sorted(rows.values()) == ["sending", "sent"]:
                break
            assert time.monotonic() < deadline, rows
            await asyncio.sleep(0.02)
        assert rows[deliverer.broken] == "sending"  # left to its lease
        (record,) = [r for r in caplog.records if r.message == "recording an attempt failed"]
        assert record.outbox_id == deliverer.broken  # type: ignore[attr-defined]
        assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
        # The sent row is written before its task ends: the task leaves `_active` a moment later.
        await eventually(lambda: worker._active == {})
    finally:
        await worker.stop()
        await box.db.dispose()
