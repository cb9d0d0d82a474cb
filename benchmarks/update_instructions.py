"""Instructions per definition update (`DefinitionService.update`, what a PATCH of a server
definition runs in the store), per thread, counted by valgrind: how much of it runs on the
event loop, where every app's sends wait for it (tenant_builds.py's churn updates eight
definitions a round).

    python benchmarks/update_instructions.py                            # this tree
    python benchmarks/update_instructions.py --compare ../base/.venv/bin/python

The store in-process on SQLite, one app with `--definitions` definitions (as tenant_builds.py
makes them); each update changes one definition's description, as the churn does. Runs under
`valgrind --tool=callgrind --separate-threads=yes` with SMALL and LARGE updates; (LARGE −
SMALL) ÷ their difference per thread is one update, start-up cancelled out. Needs Debian's
`valgrind`; about a minute per tree.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from valgrind import instructions_per_thread, require_valgrind

SMALL, LARGE = 20, 120
THREADS = {"01": "event loop", "02": "aiosqlite"}


async def updates(count: int, definitions: int) -> None:
    """Make the app, warm up, then `count` updates (run under valgrind)."""
    from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, Service
    from smtp_connector.store.domain import DefinitionPatch
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
            last = (await service.definitions.create(CLI_ACTOR, "a", data)).id
        for n in range(5 + count):
            patch = DefinitionPatch(description=f"r{n}")
            await service.definitions.update(CLI_ACTOR, "a", last, patch)
        await service.aclose()


def counted(python: str, count: int, definitions: int) -> dict[str, int]:
    """Instructions per thread name for one run of `count` updates."""
    command = [python, __file__, "--run", str(count), "--definitions", str(definitions)]
    return instructions_per_thread(command, THREADS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    parser.add_argument("--definitions", type=int, default=40)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # the counted child
    args = parser.parse_args()
    if args.run is not None:
        asyncio.run(updates(args.run, args.definitions))
        return
    require_valgrind()
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    for name, python in trees.items():
        small, large = (counted(python, count, args.definitions) for count in (SMALL, LARGE))
        per = {thread: (large[thread] - small.get(thread, 0)) / (LARGE - SMALL) for thread in large}
        parts = ", ".join(f"{thread} {value / 1e6:.2f}" for thread, value in per.items())
        print(f"{name}: {sum(per.values()) / 1e6:.2f} million instructions per update ({parts})")


if __name__ == "__main__":
    main()
