"""`smtp-connector serve`'s cold start: process start → first 200, and its idle memory.

    .venv/bin/python benchmarks/startup.py              # 5 runs each, SQLite and PostgreSQL
    .venv/bin/python benchmarks/startup.py --runs 3 --engines sqlite

Each run starts a real `serve` (the console script next to this Python) on a database that
`db upgrade` prepared before (a restart, the common case; a first start also migrates), polls
`GET /healthz` from the moment the process is spawned, notes the CPU time serve used until
it answered (what a loaded machine does not inflate), and reads the process's RSS
from /proc one second after its first 200 (idle: no request in between). An uncounted first
start writes the bytecode, as installing a wheel does. PostgreSQL:
127.0.0.1:5432, a database made and dropped for the run. Prints one table, medians of
`--runs` runs with the spread (min–max), and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sink import free_port

BIN = Path(sys.executable).with_name("smtp-connector")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def env(url: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    # Bytecode is written (and reused) as an installed package's is: a shell with
    # PYTHONDONTWRITEBYTECODE would otherwise compile every module on every start.
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("SMTP_CONNECTOR_") and k != "PYTHONDONTWRITEBYTECODE"}  # fmt: skip
    return base | {"SMTP_CONNECTOR_SECRET_KEY": Fernet.generate_key().decode(),
                   "SMTP_CONNECTOR_DATABASE_URL": url}  # fmt: skip


def healthy(port: int) -> bool:
    """serve binds its port before it starts up: a request sent then waits in the backlog and
    is answered the moment serve is ready (so the wait must not time out first)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_ms(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def one_start(environ: dict[str, str]) -> tuple[float, float, float]:
    """(ms from spawn to the first 200, CPU ms spent by then, idle RSS in MB) of one serve."""
    port = free_port()
    command = [str(BIN), "serve", "--port", str(port), "--log-level", "warning"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while not healthy(port):
            if process.poll() is not None or time.perf_counter() - started > 30:
                raise SystemExit(f"serve did not start (exit {process.poll()})")
            time.sleep(0.005)
        ready, cpu = (time.perf_counter() - started) * 1000, cpu_ms(process.pid)
        time.sleep(1)
        return ready, cpu, rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(engine: str, runs: int, folder: Path) -> list[tuple[float, float, float]]:
    name = f"smtpc_startup_{os.getpid()}_{int(time.time())}"
    if engine == "postgres":
        subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{name}"'], check=True)
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{folder / 'startup.db'}"
    environ = env(url)
    try:
        subprocess.run([str(BIN), "db", "upgrade"], env=environ, check=True,
                       capture_output=True)  # fmt: skip
        one_start(environ)  # the first start after an install compiles .pyc files: not counted
        return [one_start(environ) for _ in range(runs)]
    finally:
        if engine == "postgres":
            subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{name}" '
                            "WITH (FORCE)"], check=False)  # fmt: skip


def spread(values: list[float], fmt: str) -> str:
    return (f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–"
            f"{fmt.format(max(values))})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            samples = measure(engine, args.runs, Path(tmp))
            rows.append((engine, *([s[i] for s in samples] for i in range(3))))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n`serve` cold start, {args.runs} runs each, median (min–max); "
          f"load average {load}\n")  # fmt: skip
    print("| database | serve start → first 200, ms | CPU ms by then | idle RSS, MB |")
    print("|---|---|---|---|")
    for engine, ready, cpu, rss in rows:
        print(f"| {engine} | {spread(ready, '{:,.0f}')} | {spread(cpu, '{:,.0f}')} | "
              f"{spread(rss, '{:.1f}')} |")  # fmt: skip


if __name__ == "__main__":
    main()
