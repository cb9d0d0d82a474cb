"""Instructions (valgrind) one queued send costs on SQLite in one process, from
`MessageService.send` to the committed outbox row: the request side of issue 26 §1, measured
where the shared machine's load does not move the figure.

    python benchmarks/enqueue_instructions.py                                 # this tree
    python benchmarks/enqueue_instructions.py --compare ../base/.venv/bin/python
    python benchmarks/enqueue_instructions.py --http       # from the HTTP request, see below

An app with one `enqueue` definition; sends go 16 at once (as concurrent requests do), no
worker runs, no SMTP; the app's versions stay remembered (as `serve`'s refresh keeps them),
so a send reads nothing. The count is the difference of two runs (SMALL and LARGE sends), so
start-up and warm-up cancel out. Needs Debian's `valgrind`; about a minute per tree. The
event loop's thread is also counted alone: the embedded writer's share moves with how many
sends each of its transactions happens to carry under valgrind's thread scheduling (±6 % of
the whole between runs of one tree), the event loop's much less.

`--http` counts the request too: each send is a `POST /v1/apps/{id}/messages` handed to the
app `serve` runs (its whole ASGI stack: the edge, the send route's short path, the key check,
the body's checks and the 202 written), everything but uvicorn's parsing of the bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from valgrind import instructions_per_thread, require_valgrind  # noqa: E402

SMALL, LARGE = 200, 1000
CHUNK = 16
KEY = "8KqvSqwlaiHnoqrJfhwY6wnO2hUlIFJeaGmDk9Ju0OE="  # a throwaway Fernet key


async def _sends(url: str, count: int, http: bool = False) -> None:
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
    if http:
        send = await _http_sender(service, app.id)
    else:

        async def send(i: int) -> None:
            request = MessageRequest(to=f"u{i}@example.org", usage_type="SignIn",
                                     payload={"code": "123456"})  # fmt: skip
            await service.messages.send(CLI_ACTOR, app.id, request)

    for start in range(-64, count, CHUNK):  # the first 64: warm-up
        await asyncio.gather(*(send(start + i) for i in range(CHUNK)))
    await service.aclose()


async def _http_sender(service: Any, app_id: str) -> Callable[[int], Awaitable[None]]:
    """One send as `serve`'s app receives it (an ASGI call); checks the 202."""
    from smtp_connector.server.app import create_app
    from smtp_connector.server.settings import Settings
    from smtp_connector.store import CLI_ACTOR

    _, key = await service.keys.create(CLI_ACTOR, ["smtpserver_send"])
    service.keys.cache_ttl = float("inf")  # remembered, as serve's refresh keeps it (see above)
    app = create_app(Settings(), service=service)
    path = f"/v1/apps/{app_id}/messages"

    async def send(i: int) -> None:
        body = json.dumps({"to": f"u{i}@example.org", "usageType": "SignIn",
                           "payload": {"code": "123456"}}).encode()  # fmt: skip
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 40000 + i % 16),
            "server": ("127.0.0.1", 8025),
            "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {key}".encode()),
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def reply(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, reply)
        assert sent[0]["status"] == 202, sent

    return send


def _count(python: str, count: int, http: bool) -> dict[str, int]:
    """Instructions of the whole run, and of the event loop's thread alone (callgrind's "01")."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/queue.db"
        extra = ["--http"] if http else []
        command = [python, __file__, "--run", url, str(count), *extra]
        threads = instructions_per_thread(command, {"01": "event loop"})
        return threads | {"all": sum(threads.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    parser.add_argument("--http", action="store_true", help="send through the app (ASGI)")
    parser.add_argument("--run", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        asyncio.run(_sends(args.run[0], int(args.run[1]), args.http))
        return
    require_valgrind()
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    for name, python in trees.items():
        small, large = _count(python, SMALL, args.http), _count(python, LARGE, args.http)
        each = {part: (large.get(part, 0) - small.get(part, 0)) / (LARGE - SMALL) for part in large}
        print(
            f"{name}: {each['all']:,.0f} instructions/send (event loop {each['event loop']:,.0f},"
            f" the writer and other threads {each.get('other threads', 0):,.0f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
