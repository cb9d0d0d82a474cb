"""One CPU-cost run of the connector in its own process: LOOP (asyncio | uvloop), CONNECTIONS,
COUNT, PORT → one JSON line {count, seconds, cpu_s, cpu_us_per_msg, rate, errors, rss_mb}.

The connector is built and warmed up first (connections open, templates compiled, the collector
frozen at the warm-up's last message: what a running auth service has), then COUNT SignIn mails
(shipped template, text + HTML) are sent with `send_many(concurrency=2 × connections)`; CPU is
this process's user + system time over that phase, so it counts rendering, MIME, the event loop
and the kernel work of the sockets.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from smtp_connector import ConnectorError, SmtpConnector

WARM_UP = 300


def _requests(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "to": f"user{i}@example.org",
            "usage_type": "SignIn",
            "payload": {"code": f"{i % 1_000_000:06d}", "application": {"name": "Acme"}},
        }
        for i in range(start, start + count)
    ]


async def run(port: int, connections: int, count: int) -> dict[str, Any]:
    config = {
        "host": "127.0.0.1",
        "port": port,
        "fromEmail": "noreply@example.com",
        "fromName": "Acme",
        "ignoreTLS": True,
        "pool": {"maxConnections": connections, "maxMessages": 1_000_000},
    }
    concurrency = 2 * connections
    try:  # a long-running sender's choice (opt-in; see delivery/pool.py)
        from smtp_connector.delivery.pool import freeze_gc_after_warmup
    except ImportError:  # an older tree (--compare) froze unasked, or not at all
        pass
    else:  # frozen as the warm-up ends: every counted message runs as in a warm process
        freeze_gc_after_warmup(WARM_UP)
    async with SmtpConnector(config) as connector:
        await connector.send_many(_requests(0, WARM_UP), concurrency=concurrency)
        requests = _requests(WARM_UP, count)
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        results = await connector.send_many(requests, concurrency=concurrency)
        cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
    errors = sum(isinstance(r, ConnectorError) for r in results)
    return {
        "count": count,
        "seconds": wall,
        "cpu_s": cpu,
        "cpu_us_per_msg": cpu / count * 1e6,
        "rate": count / wall,
        "errors": errors,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    loop, connections, count, port = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    coroutine = run(port, connections, count)
    if loop == "uvloop":
        import uvloop

        result = uvloop.run(coroutine)
    elif loop == "asyncio":
        result = asyncio.run(coroutine)
    else:
        raise SystemExit(f"unknown loop {loop!r}: asyncio or uvloop")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
