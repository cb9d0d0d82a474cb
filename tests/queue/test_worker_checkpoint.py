"""The worker sets its before-DATA checkpoint with the context variable's own `set` and
`reset` (delivery/checkpoint.py `set_checkpoint`), not `before_message_data`'s generator: as
with the context manager, the send sees the attempt's checkpoint (which marks the row on a
real SQLite outbox), and once the attempt ends — delivered, refused, or failed before
sending — the caller's own checkpoint is back, whatever it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from queue_support import sqlite_outbox_in

from smtp_connector import ConnectorError, ErrorCode
from smtp_connector.delivery.checkpoint import before_message_data, current_checkpoint
from smtp_connector.queue.outbox import NewMessage
from smtp_connector.queue.policy import RetryPolicy
from smtp_connector.store import SendJob, SendOutcome


async def _outer() -> None:
    """The caller's own checkpoint, around the attempt."""


@pytest.mark.parametrize("ending", ["sent", "refused", "crashed"])
@pytest.mark.parametrize("outer", [None, _outer])
async def test_the_attempt_sets_its_checkpoint_and_gives_back_the_callers(
    tmp_path: Path, ending: str, outer: Any
) -> None:
    from smtp_connector.queue.worker import Deliverer

    box = sqlite_outbox_in(tmp_path)
    seen: list[Any] = []

    async def deliver_now(job: SendJob) -> SendOutcome:
        checkpoint = current_checkpoint()
        seen.append(checkpoint)
        assert checkpoint is not None and checkpoint is not outer
        await checkpoint()  # what the sender does after 354: marks the row
        if ending == "refused":
            raise ConnectorError(ErrorCode.MESSAGE_REJECTED, "no", retryable=False, stage="data")
        if ending == "crashed":
            raise RuntimeError("a bug")
        return SendOutcome("sent")

    try:
        await box.enqueue(NewMessage("app", ("d1",), "u@x.org", "SignIn", {"code": "1"}, None,
                                     3, 9_999_999_999.0))  # fmt: skip
        (claim,) = await box.claim_due("w", 1)
        deliverer = Deliverer(box, deliver_now, RetryPolicy())
        if outer is None:
            end = await deliverer.attempt(claim)
            assert current_checkpoint() is None
        else:
            with before_message_data(outer):
                end = await deliverer.attempt(claim)
                assert current_checkpoint() is outer
        assert len(seen) == 1
        assert end is not None
        assert end.status == {"sent": "sent", "refused": "failed", "crashed": "queued"}[ending]
        row = await box.get(claim.id)
        # The attempt's own checkpoint marked the row (a retry clears the mark again).
        assert (row.data_at is not None) == (ending != "crashed")
    finally:
        await box.db.dispose()
