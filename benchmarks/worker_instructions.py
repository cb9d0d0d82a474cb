"""Instructions (valgrind) the embedded SQLite worker costs per delivered message: the
delivery side of issue 26 §1 (claim → the app's connector → render and compose → the SMTP
exchange → the completion), counted where the shared machine's load does not move it.

    python benchmarks/worker_instructions.py                                 # this tree
    python benchmarks/worker_instructions.py --compare ../base/.venv/bin/python

An app with one `enqueue` definition pointing at a local `smtp-sink`. Its messages are queued
first, outside valgrind, by the request side (`MessageService.send`, the payload `serve`'s
benchmark sends); then a process opens the store and the queue as `smtp-connector worker` does
(`freeze_gc_after_warmup`, uvloop when installed) and its embedded worker delivers every row
until the last is marked `sent`. That process runs under `valgrind --tool=callgrind` with
SMALL and with LARGE queued rows; (LARGE − SMALL) ÷ (LARGE − SMALL rows) is what one more
delivered message costs, start-up, the connector's build and warm-up cancelled out. Printed
per tree: all threads, and the event loop's and the writer thread's shares (the other threads
only build the connector, once per run). The kernel's socket and disk work is not counted.
Needs Debian's `valgrind` and postfix's `smtp-sink`; about two minutes per tree.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sink import smtp_sink  # noqa: E402
from valgrind import instructions_per_thread, require_valgrind  # noqa: E402

SMALL, LARGE = 200, 1000
KEY = "8KqvSqwlaiHnoqrJfhwY6wnO2hUlIFJeaGmDk9Ju0OE="  # a throwaway Fernet key
# callgrind numbers threads in start order: the event loop, then the writer thread, which
# the queue's database starts when it opens, before anything builds a connector.
THREADS = {"01": "event loop", "02": "writer thread"}


async def _open(url: str) -> Any:
    from smtp_connector.queue import Queue, QueueOptions
    from smtp_connector.store import Service
    from smtp_connector.store.network import NetworkPolicy
    from smtp_connector.store.policy import ServicePolicy

    queue = Queue(url, QueueOptions())
    policy = ServicePolicy(network=NetworkPolicy.parse("any"))
    service = await Service.open(url, KEY, migrate=True, sender=queue.sender_factory,
                                 policy=policy)  # fmt: skip
    return service, queue


async def _prepare(url: str, count: int, port: int) -> None:
    """The app, its definition and `count` queued messages (no worker runs)."""
    from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, MessageRequest

    service, queue = await _open(url)
    await queue.start(worker=False)
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="bench"))
    await service.definitions.create(CLI_ACTOR, app.id, DefinitionCreate(
        host="127.0.0.1", port=port, security="none", from_email="noreply@example.com",
        from_name="Acme", enqueue=True,
    ))  # fmt: skip
    for start in range(0, count, 16):
        await asyncio.gather(*(
            service.messages.send(CLI_ACTOR, app.id, MessageRequest(
                to=f"user{i}@example.org", usage_type="SignIn",
                payload={"code": f"{i:06d}", "application": {"name": "Acme"}},
            ))
            for i in range(start, min(start + 16, count))
        ))  # fmt: skip
    await service.aclose()


async def _deliver(url: str, count: int) -> None:
    """Run the embedded worker until `count` attempts have ended (all `sent`), then stop."""
    from smtp_connector.delivery.pool import freeze_gc_after_warmup

    freeze_gc_after_warmup()  # as `smtp-connector worker` runs
    service, queue = await _open(url)
    ended = asyncio.Event()
    ends: list[str] = []
    attempt = queue.deliverer.attempt

    async def counted(claim: Any) -> Any:
        end = await attempt(claim)
        ends.append(end.status if end is not None else "taken over")
        if len(ends) == count:
            ended.set()
        return end

    queue.deliverer.attempt = counted
    await queue.start(worker=True)
    await ended.wait()
    await service.aclose()
    if set(ends) != {"sent"}:
        raise SystemExit(f"not all sent: {sorted(set(ends))}")


def _run(coroutine: Any) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


def _count(python: str, count: int, port: int) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/queue.db"
        subprocess.run([python, __file__, "--prepare", url, str(count), str(port)],
                       check=True, cwd=HERE)  # fmt: skip
        command = [python, __file__, "--deliver", url, str(count)]
        return instructions_per_thread(command, THREADS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    parser.add_argument("--prepare", nargs=3, metavar=("URL", "COUNT", "PORT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--deliver", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        _run(_prepare(args.prepare[0], int(args.prepare[1]), int(args.prepare[2])))
        return
    if args.deliver:
        _run(_deliver(args.deliver[0], int(args.deliver[1])))
        return
    require_valgrind()
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    with smtp_sink() as port:
        for name, python in trees.items():
            small, large = _count(python, SMALL, port), _count(python, LARGE, port)
            per = {part: (large.get(part, 0) - small.get(part, 0)) / (LARGE - SMALL)
                   for part in large}  # fmt: skip
            shares = ", ".join(f"{part} {value:,.0f}" for part, value in sorted(per.items()))
            print(f"{name}: {sum(per.values()):,.0f} instructions/message ({shares})",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
