"""The pool freezes the garbage collector's view of the warm process once when asked
(`freeze_gc_after_warmup`, delivery/pool.py): never unasked, not before its threshold of queued
messages, once at it, and sends go on as before."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

CODE = """
import asyncio, gc, json
from smtp_connector import SmtpConnector
from smtp_connector.delivery import pool
pool.freeze_gc_after_warmup(ARMED)  # the threshold, small for the test
seen = [gc.get_freeze_count()]  # what was frozen before (3.12 starts with some objects frozen)
async def main():
    config = {"host": "127.0.0.1", "port": PORT, "fromEmail": "noreply@example.com",
              "ignoreTLS": True}
    async with SmtpConnector(config) as connector:
        for i in range(30):
            await connector.send(f"user{i}@example.org", "SignIn", {"code": f"{i:06d}"})
            seen.append(gc.get_freeze_count())
asyncio.run(main())
print(json.dumps(seen))
"""


def _freeze_counts(port: int, armed: bool) -> list[int]:
    code = CODE.replace("PORT", str(port))
    if not armed:
        code = code.replace("pool.freeze_gc_after_warmup(ARMED)", "pass")
    out = subprocess.run(
        [sys.executable, "-c", code.replace("ARMED", "20")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    baseline, *counts = json.loads(out)
    return [count - baseline for count in counts]  # frozen by the pool, per send


def test_the_collector_is_frozen_once_after_the_warm_up(make_server: Any) -> None:
    server = make_server()
    frozen = _freeze_counts(server.port, armed=True)
    assert frozen[:19] == [0] * 19  # nothing frozen before the threshold
    assert all(count > 0 for count in frozen[19:])  # frozen at the 20th queued message
    assert len(server.messages) == 30
    assert [m.rcpt_tos for m in server.messages] == [[f"user{i}@example.org"] for i in range(30)]


def test_a_library_user_who_did_not_ask_keeps_the_collector_as_it_was(make_server: Any) -> None:
    server = make_server()
    assert _freeze_counts(server.port, armed=False) == [0] * 30
    assert len(server.messages) == 30


def test_a_threshold_below_one_is_refused() -> None:
    from smtp_connector.delivery.pool import freeze_gc_after_warmup

    with pytest.raises(ValueError, match="at least 1"):
        freeze_gc_after_warmup(0)
