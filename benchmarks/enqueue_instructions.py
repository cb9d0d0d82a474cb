"""Instructions (valgrind) one queued send costs on SQLite in one process, from
`MessageService.send` to the committed outbox row: the request side of issue 26 §1, measured
where the shared machine's load does not move the figure.

    python benchmarks/enqueue_instructions.py                                 # this tree
    python benchmarks/enqueue_instructions.py --compare ../base/.venv/bin/python

An app with one `enqueue` definition; sends go 16 at once (as concurrent requests do), no
worker runs, no SMTP; the app's versions stay remembered (as `serve`'s refresh keeps them),
so a send reads nothing. The count is the difference of two runs (SMALL and LARGE sends), so
start-up and warm-up cancel out. Needs Debian's `valgrind`; about a minute per tree.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from valgrind import instructions, require_valgrind  # noqa: E402

SMALL, LARGE = 200, 1000
CHUNK = 16
KEY = "8KqvSqwlaiHnoqrJfhwY6wnO2hUlIFJeaGmDk9Ju0OE="  # a throwaway Fernet key


async def _sends(url: str, count: int) -> None:
    from smtp_connector.queue import Queue, QueueOptions
    from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, MessageRequest, Service
    from smtp_connector.store.network import NetworkPolicy
    from smtp_connector.store.policy import ServicePolicy

    queue = Queue(url, QueueOptions())
    policy = ServicePolicy(network=NetworkPolicy.parse("any"))
    service = await Service.open(url, KEY, migrate=True, sender=queue.sender_factory,
                                 policy=policy)  # fmt: skip
    # Under valgrind (~50x slower) the remembered app version would go stale every few sends
    # and each would re-read it; `serve` keeps it fresh off the request path (freshness.py).
    service.connectors.version_ttl = float("inf")
    await queue.start(worker=False)
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="bench"))
    await service.definitions.create(CLI_ACTOR, app.id, DefinitionCreate(
        host="127.0.0.1", port=2525, security="none", from_email="noreply@example.com",
        enqueue=True,
    ))  # fmt: skip
    send = service.messages.send
    for start in range(-64, count, CHUNK):  # the first 64: warm-up
        await asyncio.gather(*(
            send(CLI_ACTOR, app.id, MessageRequest(
                to=f"u{start + i}@example.org", usage_type="SignIn", payload={"code": "123456"}))
            for i in range(CHUNK)
        ))  # fmt: skip
    await service.aclose()


def _count(python: str, count: int) -> int:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/queue.db"
        return instructions([python, __file__, "--run", url, str(count)], cwd=HERE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    parser.add_argument("--run", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        asyncio.run(_sends(args.run[0], int(args.run[1])))
        return
    require_valgrind()
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    for name, python in trees.items():
        small, large = _count(python, SMALL), _count(python, LARGE)
        print(f"{name}: {(large - small) / (LARGE - SMALL):,.0f} instructions/send", flush=True)


if __name__ == "__main__":
    main()
