"""A fresh `serve`'s first queued send: its latency, the CPU `serve` spends on it, and the
memory before and after (what making start-up lighter must not move onto the first request).

    .venv/bin/python benchmarks/first_send.py                  # 3 runs, SQLite and PostgreSQL
    .venv/bin/python benchmarks/first_send.py --runs 5 --engines postgres

Each run prepares a database (`db upgrade`, a key, and, through a first `serve`, an app with
a definition that enqueues, at postfix's smtp-sink), stops that `serve`, and starts a fresh
one, as after a restart. One second after its first `GET /healthz` answered it reads the
idle RSS, then sends one `POST /v1/apps/{id}/messages` (its 202 is the first queued send),
then a second one, each timed at the client, with the CPU time all of `serve`'s threads
spent meanwhile (`/proc/PID/task/*/schedstat`, nanoseconds, so a loaded machine's waiting
is not counted), and reads the RSS again one second later. On SQLite `serve`'s embedded
worker delivers the message meanwhile; on PostgreSQL `serve` only defers it (no worker), as
`benchmarks/service.py` runs it. PostgreSQL: 127.0.0.1:5432, a database made and dropped
per run. Prints medians of `--runs` with the spread (min–max) and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from service import (
    BIN,
    Http,
    env,
    fresh_database,
    prepared,
    processes,
    request,
    setup_app,
    spread,
    wait_healthy,
)
from sink import free_port, smtp_sink
from startup import rss_mb


def cpu_ns(pid: int) -> int:
    """CPU time all of the process's threads have run so far (Linux schedstat)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total


async def timed_send(pid: int, port: int, key: str, app: str, i: int) -> tuple[float, float]:
    """(ms at the client, ms of serve's CPU) for one queued send."""
    async with Http(port, key) as http:
        cpu, started = cpu_ns(pid), time.perf_counter()
        status, body = await http.call("POST", f"/v1/apps/{app}/messages", request(i))
        elapsed = (time.perf_counter() - started) * 1000
        used = (cpu_ns(pid) - cpu) / 1e6
    if status != 202:
        raise SystemExit(f"HTTP {status}: {body[:300]!r}")
    return elapsed, used


async def one_run(engine: str, sink: int, folder: Path) -> dict[str, float]:
    with fresh_database(engine, "first", folder) as (url, _):
        environ = env(SMTP_CONNECTOR_DATABASE_URL=url)
        key = prepared(environ)
        port = free_port()
        serve = [str(BIN), "serve", "--port", str(port), "--log-level", "warning"]
        with processes(serve, environ=environ):  # the set-up's serve, stopped before the run
            await wait_healthy(port)
            app = await setup_app(port, key, sink, enqueue=True)
        port = free_port()
        serve = [str(BIN), "serve", "--port", str(port), "--log-level", "warning"]
        with processes(serve, environ=environ) as (pid,):
            await wait_healthy(port)
            await asyncio.sleep(1)
            idle = rss_mb(pid)
            first_ms, first_cpu = await timed_send(pid, port, key, app, 1)
            second_ms, second_cpu = await timed_send(pid, port, key, app, 2)
            await asyncio.sleep(1)
            return {"idle": idle, "first_ms": first_ms, "first_cpu": first_cpu,
                    "second_ms": second_ms, "second_cpu": second_cpu,
                    "after": rss_mb(pid)}  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    columns = [("idle", "idle RSS, MB", "{:.1f}"), ("first_ms", "1st send, ms", "{:,.0f}"),
               ("first_cpu", "its CPU, ms", "{:,.0f}"), ("second_ms", "2nd send, ms", "{:.1f}"),
               ("second_cpu", "its CPU, ms", "{:.1f}"),
               ("after", "RSS after, MB", "{:.1f}")]  # fmt: skip
    rows = []
    with smtp_sink() as sink, tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            samples = [await one_run(engine, sink, Path(tmp)) for _ in range(args.runs)]
            rows.append((engine, samples))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nA fresh `serve`'s first queued send, {args.runs} runs each, median (min–max); "
          f"load average {load}\n")  # fmt: skip
    print("| database | " + " | ".join(title for _, title, _ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for engine, samples in rows:
        cells = [spread([s[key] for s in samples], fmt) for key, _, fmt in columns]
        print(f"| {engine} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    asyncio.run(main())
