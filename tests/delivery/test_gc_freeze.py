"""The pool freezes the garbage collector's view of the warm process once (delivery/pool.py):
not before its threshold of queued messages, once at it, and sends go on as before."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

CODE = """
import asyncio, gc, json
from smtp_connector import SmtpConnector
from smtp_connector.delivery import pool
pool._gc_freeze.remaining = 20  # the threshold, small for the test (FREEZE_GC_AFTER in use)
seen = []
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


def test_the_collector_is_frozen_once_after_the_warm_up(make_server: Any) -> None:
    server = make_server()
    out = subprocess.run(
        [sys.executable, "-c", CODE.replace("PORT", str(server.port))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    frozen = json.loads(out)
    assert frozen[:19] == [0] * 19  # nothing frozen before the threshold
    assert all(count > 0 for count in frozen[19:])  # frozen at the 20th queued message
    assert len(server.messages) == 30
    assert [m.rcpt_tos for m in server.messages] == [[f"user{i}@example.org"] for i in range(30)]
