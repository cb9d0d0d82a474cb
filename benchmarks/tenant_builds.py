"""One app's sends while other apps' connectors are being rebuilt (issue 27, finding 5).

    .venv/bin/python benchmarks/tenant_builds.py              # 8 apps x 40 definitions, ~1 min
    .venv/bin/python benchmarks/tenant_builds.py --apps 8 --definitions 40 --seconds 20

A real `smtp-connector serve` (SQLite) and postfix's `smtp-sink`. App `steady` (one definition)
sends one request at a time, first alone (its baseline p50), then while a churn client keeps
the other apps' connectors rebuilding: each round changes one definition of every busy app,
then sends once through each of them at the same time, so their builds pile up together. The
service used to build a connector on its event loop (~20 ms per definition, one SSLContext
each), so the steady app's sends waited for every build; now builds run in worker threads and
share one SSLContext per TLS setting, validate only the definitions they have not seen before,
hand the interpreter lock back every 0.5 ms while they run, and a replaced connector is freed
at once instead of by the garbage collector. Target: steady's worst latency during the churn
within 10x its p50.

What is measured, and what is not: the steady app's client runs in a process of its own with
its collector off (steady_client.py), so its latencies are the service's, not this process's
(the churn client's loop, the heap `prepare` built); and one churn round runs before anything
is measured, so the busy apps' first builds and the first `PATCH`'s install of the admin
routes (once per process, server/lazy_routers.py) are not counted as rebuilds.

Prints steady's p50 alone, then its p50, p99 and worst during the churn, and how many builds
ran (and the churn's own send latency, which includes its app's rebuild).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from probe_report import explain
from service import BIN, Http, cpu_seconds, env, processes, wait_healthy
from sink import free_port, smtp_sink

from smtp_connector.store import CLI_ACTOR, SCOPES, AppCreate, DefinitionCreate, Service
from smtp_connector.store.network import NetworkPolicy
from smtp_connector.store.policy import ServicePolicy

HERE = Path(__file__).parent
STEADY_PATH = "/v1/apps/steady/messages"
LOOPBACK = ServicePolicy(network=NetworkPolicy.parse("any"))  # smtp-sink is on 127.0.0.1
BODY = {"to": "user@example.org", "usageType": "SignIn", "payload": {"code": "123456"}}


async def prepare(url: str, secret: str, sink: int, apps: int, definitions: int) -> tuple:
    """The apps and definitions, made in-process before serve starts; an operator key."""
    raised = {"max_definitions_per_app": definitions} if definitions > 50 else {}
    service = await Service.open(url, secret, migrate=True, policy=LOOPBACK, **raised)
    try:
        _, key = await service.keys.create(CLI_ACTOR, SCOPES)
        last: dict[str, str] = {}  # app -> a definition the churn changes
        for name, count in [("steady", 1)] + [(f"busy{n}", definitions) for n in range(apps)]:
            await service.apps.create(CLI_ACTOR, AppCreate(name=name, id=name))
            for n in range(count):
                data = DefinitionCreate(host="127.0.0.1", port=sink, security="none",
                                        auth=False, from_email="noreply@example.com",
                                        priority=n)  # fmt: skip
                last[name] = (await service.definitions.create(CLI_ACTOR, name, data)).id
        return key, {app: definition for app, definition in last.items() if app != "steady"}
    finally:
        await service.aclose()


async def steady_for(port: int, key: str, warm: float, seconds: float) -> Steady:
    """The steady app's latencies over `seconds` after `warm` seconds not kept, measured by
    a client process of its own (steady_client.py says why)."""
    client = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "steady_client.py"), str(port), str(warm), str(seconds),
        env=os.environ | {"STEADY_KEY": key}, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await client.communicate()
    if client.returncode:
        raise SystemExit(f"steady client failed ({client.returncode})")
    found = json.loads(out)
    return Steady(found["latencies"], tuple(found["window"]))


async def churn_round(connections: list[Http], busy: dict[str, str], number: int,
                      latencies: list[float]) -> None:  # fmt: skip
    """Change one definition per busy app, then send through all of them at once (each send
    rebuilds its app's connector first); the sends' latencies go to `latencies`."""
    for http, (app, definition) in zip(connections, busy.items(), strict=True):
        path = f"/v1/apps/{app}/servers/{definition}"
        status, _ = await http.call("PATCH", path, {"description": f"r{number}"})
        assert status == 200, status

    async def send(http: Http, app: str) -> None:
        started = time.perf_counter()
        status, body = await http.call("POST", f"/v1/apps/{app}/messages", BODY)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"{app}: HTTP {status} {body[:200]!r}")

    await asyncio.gather(*(send(h, a) for h, a in zip(connections, busy, strict=True)))


class Steady(NamedTuple):
    """The steady app's latencies in one phase, and when the phase began and ended."""

    latencies: list[float]
    window: tuple[float, float]


class Phases:
    """When the churn may go on: after its first round (`warmed`) it waits for `go`, and stops
    at the end of the round during which `stop` is set."""

    def __init__(self) -> None:
        self.warmed, self.go, self.stop = asyncio.Event(), asyncio.Event(), asyncio.Event()


async def churn(port: int, key: str, busy: dict[str, str], phases: Phases) -> list[float]:
    """Rounds of `churn_round`. The first runs before anything is measured: it builds each
    busy app's first connector and installs the admin routes that the `PATCH`es use (each is
    done once per process, not per rebuild, and the steady app was warmed likewise); its
    latencies are not kept. Returns the later rounds' send latencies."""
    await rounds(port, key, busy, None)
    phases.warmed.set()
    await phases.go.wait()  # on new connections: the server closed the idle ones meanwhile
    return await rounds(port, key, busy, phases.stop)


async def rounds(port: int, key: str, busy: dict[str, str], stop: asyncio.Event | None,
                 ) -> list[float]:  # fmt: skip
    """One round (`stop` None), else rounds until `stop` is set, on connections of their own."""
    latencies: list[float] = []
    connections = [await Http(port, key).__aenter__() for _ in busy]
    try:
        round_number = 0
        while stop is None or not stop.is_set():
            round_number += 1
            await churn_round(connections, busy, round_number, latencies)
            if stop is None:
                break
    finally:
        for http in connections:
            await http.__aexit__()
    return latencies


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder, smtp_sink() as sink:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        environ = env(SMTP_CONNECTOR_MAX_DEFINITIONS_PER_APP=str(args.definitions),
                      SMTP_CONNECTOR_NETWORK_POLICY="any")  # fmt: skip
        secret = environ["SMTP_CONNECTOR_SECRET_KEY"]
        key, busy = await prepare(url, secret, sink, args.apps, args.definitions)
        probe = Path(folder) / "probe.json"
        if args.explain:
            environ |= {"PYTHONPATH": str(HERE / "serve_probe"), "SERVE_PROBE": str(probe)}
        port = free_port()
        command = [str(BIN), "serve", "--port", str(port), "--database-url", url,
                   "--log-level", "warning"]  # fmt: skip
        with processes(command, environ=environ) as pids:
            await wait_healthy(port)
            phases = Phases()
            churned = asyncio.create_task(churn(port, key, busy, phases))
            await phases.warmed.wait()
            cpu = cpu_seconds(pids)
            alone = await steady_for(port, key, 1.0, args.seconds)  # warm: connector, key
            cpu_alone, cpu = cpu_seconds(pids) - cpu, cpu_seconds(pids)
            phases.go.set()
            during = await steady_for(port, key, 0.0, args.seconds)
            phases.stop.set()
            builds = await churned
            cpu_during = cpu_seconds(pids) - cpu
            report(args, alone.latencies, during.latencies, builds)
            print(f"serve's CPU: {cpu_alone / args.seconds:.0%} of a core alone, "
                  f"{cpu_during / args.seconds:.0%} during the churn; load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
        if args.explain:  # serve has stopped and written what it recorded
            windows = {"alone": alone.window, "during the churn": during.window}
            print("\n".join(explain(probe, STEADY_PATH, windows)))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary(latencies: list[float], p50_alone: float) -> str:
    cut = statistics.quantiles(latencies, n=1000, method="inclusive")
    slow = sum(latency > 10 * p50_alone for latency in latencies)
    spread = f"p50 {ms(statistics.median(latencies))}, p99 {ms(cut[989])}, p99.9 {ms(cut[998])}"
    return f"{spread}, worst {ms(max(latencies))}; {slow} of {len(latencies)} over 10x p50 alone"


def report(args: argparse.Namespace, alone: list[float], during: list[float],
           builds: list[float]) -> None:  # fmt: skip
    p50 = statistics.median(alone)
    print(f"{args.apps} apps x {args.definitions} definitions rebuilt for {args.seconds:.0f} s: "
          f"{len(builds)} builds; their sends, rebuild included: p50 "
          f"{ms(statistics.median(builds))}, worst {ms(max(builds))}")  # fmt: skip
    print(f"steady app alone:        {summary(alone, p50)}")
    print(f"steady app during churn: {summary(during, p50)}")
    verdict = "met" if max(during) <= 10 * p50 else "NOT met"
    print(f"worst during churn / p50 alone = {max(during) / p50:.1f}x (target <= 10x: {verdict}); "
          f"worst alone / p50 alone = {max(alone) / p50:.1f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, default=8)
    parser.add_argument("--definitions", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=15.0, help="per phase")
    parser.add_argument("--explain", action="store_true",
                        help="also say where serve's time went (serve_probe/)")  # fmt: skip
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
