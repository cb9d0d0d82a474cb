"""What the store's valgrind counters share: one app with N server definitions in an
in-process store on SQLite, made as tenant_builds.py makes them, and the per-thread count of
one operation from two runs of SMALL and LARGE operations (start-up cancelled out).
update_instructions.py and rebuild_instructions.py each add only their operation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from valgrind import instructions_per_thread, require_valgrind

FERNET_KEY = "vHnW0kOCJ8Zl1v3h0bRmu8cQ5kRYbXh3S0pWQmGzv5M="  # a throwaway key


@asynccontextmanager
async def app_with_definitions(definitions: int) -> AsyncIterator[tuple[Any, str]]:
    """The open store and the id of app "a"'s last definition (each without auth, a
    different priority, on 127.0.0.1:2525)."""
    from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, Service
    from smtp_connector.store.network import NetworkPolicy
    from smtp_connector.store.policy import ServicePolicy

    policy = ServicePolicy(network=NetworkPolicy.parse("any"))
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        service = await Service.open(url, FERNET_KEY, migrate=True, policy=policy,
                                     max_definitions_per_app=max(50, definitions))  # fmt: skip
        try:
            await service.apps.create(CLI_ACTOR, AppCreate(name="a", id="a"))
            last = ""
            for n in range(definitions):
                data = DefinitionCreate(host="127.0.0.1", port=2525, security="none",
                                        auth=False, from_email="noreply@example.com",
                                        priority=n)  # fmt: skip
                last = (await service.definitions.create(CLI_ACTOR, "a", data)).id
            yield service, last
        finally:
            await service.aclose()


def parse(description: str) -> argparse.Namespace:
    """--compare, --definitions and the counted child's hidden --run COUNT."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    parser.add_argument("--definitions", type=int, default=40)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # the counted child
    return parser.parse_args()


def report(
    script: str, args: argparse.Namespace, threads: dict[str, str], sizes: tuple[int, int],
    what: str,
) -> None:  # fmt: skip
    """Count `script --run N` at both sizes for this tree (and --compare's); print one
    operation's instructions per thread."""
    require_valgrind()
    small_n, large_n = sizes
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    for name, python in trees.items():
        small, large = (
            instructions_per_thread(_command(python, script, count, args.definitions), threads)
            for count in sizes
        )
        per = {t: (large[t] - small.get(t, 0)) / (large_n - small_n) for t in large}
        parts = ", ".join(f"{thread} {value / 1e6:.2f}" for thread, value in per.items())
        print(f"{name}: {sum(per.values()) / 1e6:.2f} million instructions per {what} ({parts})")


def _command(python: str, script: str, count: int, definitions: int) -> list[str]:
    return [python, script, "--run", str(count), "--definitions", str(definitions)]
