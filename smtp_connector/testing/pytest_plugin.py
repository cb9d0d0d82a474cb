"""pytest plugin (entry point `pytest11`): test sign-in flows without a mail server.

Point the connector at `transport: "memory"` and the `smtp_outbox` fixture holds every message
the code under test sent — rendered, composed and signed exactly as it would go on the wire.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..delivery.backends import OUTBOX, NothingSent, Outbox

__all__ = ["NothingSent", "Outbox", "smtp_outbox"]


@pytest.fixture
def smtp_outbox() -> Iterator[Outbox]:
    """The memory transport's outbox, emptied before and after each test.

    `smtp_outbox.last_code("user@example.org")` gives the latest code sent to that address, and
    fails the test with a hint (`NothingSent`, an AssertionError) when nothing was sent there.
    """
    OUTBOX.clear()
    yield OUTBOX
    OUTBOX.clear()
