"""Instructions per rebuild of one app's 40-definition connector, per thread, counted by
valgrind: how much of a rebuild runs on the event loop (every app's sends wait for it there),
how much in the database driver's thread and how much in the build threads.

    python benchmarks/rebuild_instructions.py                            # this tree
    python benchmarks/rebuild_instructions.py --compare ../base/.venv/bin/python

The store in-process on SQLite (`--definitions` definitions without auth, as
tenant_builds.py makes them); each rebuild drops the app's connector and leases it again, as a
send after a definition change does. Runs under `valgrind --tool=callgrind
--separate-threads=yes` with SMALL and LARGE rebuilds; (LARGE − SMALL) ÷ their difference per
thread is one rebuild, start-up cancelled out. Unlike CPU time it does not move with what else
runs on a shared machine. Needs Debian's `valgrind`; about 2.5 minutes per tree.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from valgrind import instructions_per_thread, require_valgrind

SMALL, LARGE = 10, 50
THREADS = {"01": "event loop", "02": "aiosqlite", "03": "build threads", "04": "build threads"}


async def rebuilds(count: int, definitions: int) -> None:
    """Make the app, warm up, then `count` rebuilds (run under valgrind)."""
    from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, Service
    from smtp_connector.store.connectors import Versions
    from smtp_connector.store.network import NetworkPolicy
    from smtp_connector.store.policy import ServicePolicy

    key = "vHnW0kOCJ8Zl1v3h0bRmu8cQ5kRYbXh3S0pWQmGzv5M="  # a throwaway Fernet key
    policy = ServicePolicy(network=NetworkPolicy.parse("any"))
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        service = await Service.open(url, key, migrate=True, policy=policy,
                                     max_definitions_per_app=max(50, definitions))  # fmt: skip
        await service.apps.create(CLI_ACTOR, AppCreate(name="a", id="a"))
        for n in range(definitions):
            data = DefinitionCreate(host="127.0.0.1", port=2525, security="none", auth=False,
                                    from_email="noreply@example.com", priority=n)  # fmt: skip
            await service.definitions.create(CLI_ACTOR, "a", data)
        versions = Versions(10**6, 0)
        for _ in range(5 + count):
            await service.connectors.invalidate("a")
            async with service.messages._lease("a", versions):
                pass
        await service.aclose()


def counted(python: str, count: int, definitions: int) -> dict[str, int]:
    """Instructions per thread name for one run of `count` rebuilds."""
    extra = ["--definitions", str(definitions)]
    return instructions_per_thread([python, __file__, "--run", str(count), *extra], THREADS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    parser.add_argument("--definitions", type=int, default=40)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # the counted child
    args = parser.parse_args()
    if args.run is not None:
        asyncio.run(rebuilds(args.run, args.definitions))
        return
    require_valgrind()
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    for name, python in trees.items():
        small = counted(python, SMALL, args.definitions)
        large = counted(python, LARGE, args.definitions)
        per = {thread: (large[thread] - small.get(thread, 0)) / (LARGE - SMALL) for thread in large}
        parts = ", ".join(f"{thread} {value / 1e6:.2f}" for thread, value in per.items())
        print(f"{name}: {sum(per.values()) / 1e6:.2f} million instructions per rebuild ({parts})")


if __name__ == "__main__":
    main()
