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

import asyncio

from store_counts import app_with_definitions, parse, report

SMALL, LARGE = 20, 120
THREADS = {"01": "event loop", "02": "aiosqlite"}


async def updates(count: int, definitions: int) -> None:
    """Make the app, warm up, then `count` updates (run under valgrind)."""
    from smtp_connector.store import CLI_ACTOR
    from smtp_connector.store.domain import DefinitionPatch

    async with app_with_definitions(definitions) as (service, last):
        for n in range(5 + count):
            patch = DefinitionPatch(description=f"r{n}")
            await service.definitions.update(CLI_ACTOR, "a", last, patch)


def main() -> None:
    args = parse(__doc__.split("\n\n")[0])
    if args.run is not None:
        asyncio.run(updates(args.run, args.definitions))
        return
    report(__file__, args, THREADS, (SMALL, LARGE), "update")


if __name__ == "__main__":
    main()
