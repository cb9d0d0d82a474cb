"""The event loop's CPU for what a `serve` does once: several apps' first sends at once (their
connectors built with no earlier one to share compiled templates with), and the first admin
request (issue 26 §2). CPU time of the loop's own thread (`time.thread_time`), so time spent
waiting for a CPU on a loaded machine is not counted; work moved to other threads is not.

    .venv/bin/python benchmarks/first_use_loop.py            # 8 apps, 5 rounds
    .venv/bin/python benchmarks/first_use_loop.py --apps 8 --rounds 5

Each round is a fresh interpreter: an in-process `Service` on SQLite with `--apps` apps of one
definition each at `smtp-sink`, every app's first send at once (`asyncio.gather`), then the
same sends again (warm); then an app over httpx's ASGI transport and its first `GET /v1/apps`,
which installs the admin routers on the loop. Prints medians (ranges).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sink import smtp_sink

from smtp_connector.store import CLI_ACTOR, SCOPES, AppCreate, DefinitionCreate, Service
from smtp_connector.store.network import NetworkPolicy
from smtp_connector.store.policy import ServicePolicy

LOOPBACK = ServicePolicy(network=NetworkPolicy.parse("any"))
SECRET = "x" * 43 + "="


async def first_sends(url: str, sink: int, apps: int) -> tuple[float, float]:
    """Loop CPU (ms) of every app's first send at once, and of the same sends again."""
    from cryptography.fernet import Fernet

    from smtp_connector.store import MessageRequest

    service = await Service.open(url, Fernet.generate_key().decode(), migrate=True,
                                 policy=LOOPBACK)  # fmt: skip
    try:
        for n in range(apps):
            await service.apps.create(CLI_ACTOR, AppCreate(name=f"a{n}", id=f"a{n}"))
            data = DefinitionCreate(host="127.0.0.1", port=sink, security="none", auth=False,
                                    from_email="noreply@example.com")  # fmt: skip
            await service.definitions.create(CLI_ACTOR, f"a{n}", data)
        request = MessageRequest(to="user@example.org", usageType="SignIn",
                                 payload={"code": "123456"})  # fmt: skip
        spent = []
        for _ in range(2):
            started = time.thread_time()
            await asyncio.gather(*(service.messages.send(CLI_ACTOR, f"a{n}", request)
                                   for n in range(apps)))  # fmt: skip
            spent.append((time.thread_time() - started) * 1000)
        return spent[0], spent[1]
    finally:
        await service.aclose()


async def first_admin_request(url: str) -> float:
    """Loop CPU (ms) of a fresh app's first `GET /v1/apps`, which installs its router."""
    import httpx
    from cryptography.fernet import Fernet

    from smtp_connector.server import Settings, create_app

    service = await Service.open(url, Fernet.generate_key().decode(), migrate=True)
    try:
        _, key = await service.keys.create(CLI_ACTOR, SCOPES)
        app = create_app(Settings(), service=service)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            await client.get("/healthz")
            started = time.thread_time()
            response = await client.get("/v1/apps", headers={"Authorization": f"Bearer {key}"})
            spent = (time.thread_time() - started) * 1000
        assert response.status_code == 200, response.status_code
        return spent
    finally:
        await service.aclose()


def one_round(apps: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder, smtp_sink() as sink:
        first, warm = asyncio.run(first_sends(f"sqlite:///{Path(folder) / 's.db'}", sink, apps))
        admin = asyncio.run(first_admin_request(f"sqlite:///{Path(folder) / 'a.db'}"))
    return {"first": first, "warm": warm, "admin": admin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_round(args.apps)))
        return
    rounds = []
    for _ in range(args.rounds):
        run = subprocess.run([sys.executable, __file__, "--one", "--apps", str(args.apps)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        rounds.append(json.loads(run.stdout.splitlines()[-1]))

    def cell(key: str) -> str:
        values = [r[key] for r in rounds]
        return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f}) ms"

    print(f"loop CPU, {args.apps} apps' first sends at once: {cell('first')}; "
          f"the same sends again: {cell('warm')}")  # fmt: skip
    print(f"loop CPU, the first GET /v1/apps: {cell('admin')}")


if __name__ == "__main__":
    main()
