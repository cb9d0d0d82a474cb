"""Instructions of `serve`'s cold start, counted by valgrind: process start → `serve` up on a
migrated database → its first `GET /healthz` answered 200 (benchmarks/startup.py's moment).

    python benchmarks/serve_instructions.py                                  # this tree
    python benchmarks/serve_instructions.py --compare ../base/.venv/bin/python

The counted program runs the CLI's `serve` in-process with uvicorn's start-up wrapped: once
uvicorn is serving, a task on the same loop sends `GET /healthz` to the bound port, checks the
200 and ends the process (`os._exit`, so shutdown is not counted). Compiled bytecode is written
by one unmeasured run first (as `pip install` leaves it). Unlike CPU time, the count does not
move with what else runs on a shared machine. `--engines sqlite,postgres` counts both (the
counted run gets the same environment as the unmeasured one: a PostgreSQL `serve` refuses to
start without its secret key). A few minutes per tree on a loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from valgrind import instructions, require_valgrind

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# The counted program: argv[1] is the database URL.
PROGRAM = """
import asyncio, os, sys
import uvicorn
started = uvicorn.Server.startup
async def first_200(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    head = await reader.read(64)
    os._exit(0 if head.startswith(b"HTTP/1.1 200") else 3)
async def startup(self, sockets=None):
    await started(self, sockets=sockets)
    port = sockets[0].getsockname()[1]
    asyncio.get_running_loop().create_task(first_200(port))
uvicorn.Server.startup = startup
from smtp_connector.cli import main
main(["serve", "--port", "0", "--log-level", "warning", "--database-url", sys.argv[1]])
"""


def environment(url: str, python: str) -> dict[str, str]:
    code = "from cryptography.fernet import Fernet as F; print(F.generate_key().decode())"
    run = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    key = run.stdout.strip()
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("SMTP_CONNECTOR_") and k != "PYTHONDONTWRITEBYTECODE"}  # fmt: skip
    return base | {"SMTP_CONNECTOR_SECRET_KEY": key}


def counted(python: str, engine: str, folder: Path) -> int:
    """Instructions of one `serve` start → first 200 under `python`, after an unmeasured run."""
    name = f"smtpc_serve_instr_{os.getpid()}_{int(time.time() * 1000)}"
    if engine == "postgres":
        subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{name}"'], check=True)
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{folder / (name + '.db')}"
    env = environment(url, python)
    try:
        upgrade = [python, "-m", "smtp_connector", "db", "upgrade", "--database-url", url]
        subprocess.run(upgrade, capture_output=True, check=True, env=env, cwd=folder)
        command = [python, "-c", PROGRAM, url]
        subprocess.run(command, capture_output=True, check=True, env=env, cwd=folder, timeout=120)
        return instructions(command, cwd=folder, env=env)
    finally:
        if engine == "postgres":
            subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{name}" '
                            "WITH (FORCE)"], check=False, capture_output=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite")
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    args = parser.parse_args()
    require_valgrind()
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            counts = {tree: counted(python, engine, Path(tmp)) for tree, python in trees.items()}
            print(engine, {tree: f"{count / 1e6:,.1f} M" for tree, count in counts.items()})
            rows.append((engine, counts))
    print("| database | tree | million instructions: serve start → first 200 |")
    print("|---|---|---|")
    for engine, counts in rows:
        for tree, count in counts.items():
            print(f"| {engine} | {tree} | {count / 1e6:,.1f} |")
        if args.compare:
            change = counts["this tree"] / counts["compared"] - 1
            print(f"| {engine} | change | {change:+.1%} |")


if __name__ == "__main__":
    main()
