"""A queue statement that fails must not carry a message's values into its error: not the
parameters (SQLAlchemy prints them unless the engine hides them) and not PostgreSQL's DETAIL
("Failing row contains (…, {"code": …}, …)"), since the error's text ends up in logs and
tracebacks. The error itself stays what it was (its type, its first line)."""

from __future__ import annotations

import logging
import time
import traceback

import pytest
from queue_support import FAST_POLICY
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from smtp_connector.queue import Queue, QueueOptions
from smtp_connector.queue.outbox import NewMessage
from smtp_connector.queue.tables import metadata

CODE = "918273"


async def test_a_failing_insert_names_no_value(
    queue_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    if queue_url.startswith("sqlite"):  # (PostgreSQL's fixture database is migrated)
        engine = create_engine(queue_url)
        metadata.create_all(engine)
        engine.dispose()
    queue = Queue(queue_url, QueueOptions(engine="embedded", policy=FAST_POLICY))
    broken = NewMessage(
        app_id="app-1", definition_ids=("def-1",), recipient=None,  # type: ignore[arg-type]
        usage_type="SignIn", payload={"code": CODE}, locale=None, max_attempts=3,
        expires_at=time.time() + 600,
    )  # fmt: skip
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(IntegrityError) as raised:
            await queue.outbox.enqueue(broken)
    finally:
        await queue.db.dispose()
    error = raised.value
    told = "".join(traceback.format_exception(error)) + repr(error) + caplog.text
    assert "recipient" in str(error).lower()  # the cause is still named
    assert "null" in str(error).lower()
    assert CODE not in told
    assert "user" not in told and "app-1" not in told  # no other value either
