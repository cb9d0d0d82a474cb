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

import asyncio

from store_counts import app_with_definitions, parse, report

SMALL, LARGE = 10, 50
THREADS = {"01": "event loop", "02": "aiosqlite", "03": "build threads", "04": "build threads"}


async def rebuilds(count: int, definitions: int) -> None:
    """Make the app, warm up, then `count` rebuilds (run under valgrind)."""
    from smtp_connector.store.connectors import Versions

    async with app_with_definitions(definitions) as (service, _):
        versions = Versions(10**6, 0)
        for _ in range(5 + count):
            await service.connectors.invalidate("a")
            async with service.messages._lease("a", versions):
                pass


def main() -> None:
    args = parse(__doc__.split("\n\n")[0])
    if args.run is not None:
        asyncio.run(rebuilds(args.run, args.definitions))
        return
    report(__file__, args, THREADS, (SMALL, LARGE), "rebuild")


if __name__ == "__main__":
    main()
