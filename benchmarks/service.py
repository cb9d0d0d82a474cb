"""The service's send paths against postfix's smtp-sink, beside the library's `send_many`.

    .venv/bin/python benchmarks/service.py            # N = 3000, 3 runs, every mode; ~3 min
    .venv/bin/python benchmarks/service.py --count 1000 --runs 1 --modes direct,sqlite

Modes, each against a fresh database and a real `smtp-connector serve` process:
- `send_many`: the library alone, in this process (concurrency 50): the reference.
- `direct`: `POST /v1/apps/{id}/messages` with a definition without `enqueue` (the request
  returns after the SMTP 250), 16 HTTP clients on keep-alive connections.
- `sqlite`: the same with `enqueue` on SQLite: 202 at once, the embedded worker in `serve`
  delivers; measured from the first request to the last message sent (the outbox says so).
- `postgres`: `enqueue` on PostgreSQL (127.0.0.1:5432, a database made and dropped for the
  run), `serve --no-worker` plus 2 `smtp-connector worker` processes (procrastinate;
  `--pg-workers N` for another number).

`--load python,wrk` drives each mode a second time with `wrk` (a C HTTP load generator, 16
connections on 2 threads, for `--wrk-seconds`; `apt-get install wrk`): its rows are named
`MODE (wrk)`, their latencies are wrk's own, and the messages are as many as wrk sent in that
time (queued modes: timed to the last of them `sent`, as above).

Also: the p50 latency of one direct send over HTTP minus the p50 of `connector.send` in this
process (the API's overhead per send), and the p50 latency of an enqueue (HTTP 202), both
under the 16-client load and from one client sending one request at a time, and the CPU
time the service's processes (`serve`, and the workers) spent per message during the timed
load (send_many: this process's own), read from /proc.
The load client is a minimal HTTP/1.1 client on asyncio streams so that the measuring side
costs little CPU on this 2-core machine. Prints one table; medians of `--runs` runs with
the spread (min-max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sink import free_port, smtp_sink

from smtp_connector import SmtpConnector

CLIENTS = 16
BIN = Path(sys.executable).with_name("smtp-connector")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
KRATOS_RATE = 10.0  # Ory Kratos' courier: 10 messages per 1 s poll by default
PG_WORKERS = 2  # `smtp-connector worker` processes in the postgres mode (--pg-workers)
WORKER_OPTIONS: list[str] = []  # --worker-nice N: ["--nice", "N"]


class Http:
    """Keep-alive HTTP/1.1 over one asyncio stream: request bytes out, status + body back."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key

    async def __aenter__(self) -> Http:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()

    async def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {self.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)


def request(i: int) -> dict[str, object]:
    return {"to": f"user{i}@example.org", "usageType": "SignIn",
            "payload": {"code": f"{i:06d}", "application": {"name": "Acme"}}}  # fmt: skip


async def load(port: int, key: str, app: str, count: int) -> tuple[list[float], float]:
    """`count` sends over CLIENTS connections; returns each request's latency and the start."""
    latencies: list[float] = []
    next_index = iter(range(count))
    path = f"/v1/apps/{app}/messages"

    async def client() -> None:
        async with Http(port, key) as http:
            for i in next_index:
                started = time.perf_counter()
                status, body = await http.call("POST", path, request(i))
                if status not in (200, 202):
                    raise SystemExit(f"HTTP {status}: {body[:300]!r}")
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return latencies, started


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local i = 0
request = function()
  i = i + 1
  local body = string.format('{"to":"user%%d@example.org","usageType":"SignIn",' ..
    '"payload":{"code":"%%06d","application":{"name":"Acme"}}}', i, i %% 1000000)
  return wrk.format(nil, "%(path)s", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%d %%.3f %%.3f %%.3f %%.3f %%.3f\\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
end
"""


async def wrk_load(
    port: int, key: str, app: str, seconds: float, workdir: Path
) -> dict[str, float]:
    """CLIENTS connections from `wrk` for `seconds`: requests sent, p50 and p99 in ms."""
    script = workdir / "send.lua"
    script.write_text(WRK_SCRIPT % {"key": key, "path": f"/v1/apps/{app}/messages"})
    command = ["wrk", "-t2", f"-c{CLIENTS}", f"-d{round(seconds)}s", "--latency",
               "-s", str(script), f"http://127.0.0.1:{port}"]  # fmt: skip
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    out, _ = await process.communicate()
    line = next(x for x in out.decode().splitlines() if x.startswith("WRK "))
    requests, bad_status, failed, p50, p99, p90, p999, top = line.split()[1:]
    if int(bad_status) or int(failed):
        raise SystemExit(f"wrk: {bad_status} non-2xx answers, {failed} socket errors")
    # wrk's --latency tail (p90, p99.9, max) goes to stderr beside the run's row.
    print(f"wrk tail: p90 {p90} ms, p99.9 {p999} ms, max {top} ms", file=sys.stderr)
    return {"count": int(requests), "p50_ms": float(p50), "p99_ms": float(p99)}


async def wait_sent(port: int, key: str, count: int, timeout: float = 600) -> float:
    """When the outbox reports `count` messages sent (polled every 100 ms: `/v1/queue` counts
    the whole outbox, and polling it more often would load the very processes measured)."""
    deadline = time.monotonic() + timeout
    async with Http(port, key) as http:
        while time.monotonic() < deadline:
            _, body = await http.call("GET", "/v1/queue")
            depth = json.loads(body)["depth"]
            if depth["failed"] or depth["abandoned"]:
                raise SystemExit(f"messages failed: {depth}")
            if depth["sent"] >= count:
                return time.perf_counter()
            await asyncio.sleep(0.1)
    raise SystemExit("timed out waiting for the queue to drain")


def env(**extra: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    base = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_CONNECTOR_")}
    # The sink listens on this machine, which the default network policy refuses.
    ours = {
        "SMTP_CONNECTOR_SECRET_KEY": Fernet.generate_key().decode(),
        "SMTP_CONNECTOR_NETWORK_POLICY": "private,+127.0.0.1/32",
    }
    return base | ours | extra


def cli(*args: str, environ: dict[str, str]) -> str:
    done = subprocess.run([str(BIN), *args], capture_output=True, text=True, env=environ,
                          check=False)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"smtp-connector {args[0]} failed: {done.stderr}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@contextmanager
def fresh_database(engine: str, label: str, folder: Path) -> Iterator[tuple[str, str]]:
    """(URL, name) of a database of its own for one run: on PostgreSQL one made for it and
    dropped after however the run ends; otherwise a new SQLite file in `folder`."""
    name = f"smtpc_{label}_{os.getpid()}_{time.time_ns()}"
    if engine != "postgres":
        yield f"sqlite:///{folder / f'{name}.db'}", name
        return
    subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}", name
    finally:
        subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{name}" '
                        "WITH (FORCE)"], check=False)  # fmt: skip


def prepared(environ: dict[str, str]) -> str:
    """The database migrated, and a new operator key (read, write, send) for the run."""
    cli("db", "upgrade", environ=environ)
    return cli("keys", "create", "--scope", "smtpserver_read", "--scope", "smtpserver_write",
               "--scope", "smtpserver_send", environ=environ)  # fmt: skip


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc; 0 elsewhere)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def backend_cpu(database: str) -> float:
    """CPU time so far of the PostgreSQL backends serving `database` (their process titles
    name it: the server must run on this machine), for the database's own CPU per message."""
    total = 0.0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            title = cmdline.read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
            total += cpu_seconds([int(cmdline.parent.name)])
    return total


@contextmanager
def processes(*commands: list[str], environ: dict[str, str]) -> Iterator[list[int]]:
    started = [subprocess.Popen(c, env=environ, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for c in commands]  # fmt: skip
    try:
        yield [process.pid for process in started]
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=30)


async def wait_healthy(port: int) -> None:
    for _ in range(300):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            if b"200" in await reader.readline():
                writer.close()
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("serve did not start")


async def setup_app(port: int, key: str, sink: int, enqueue: bool) -> str:
    async with Http(port, key) as http:
        _, body = await http.call("POST", "/v1/apps", {"name": "bench"})
        app = json.loads(body)["id"]
        definition = {"host": "127.0.0.1", "port": sink, "security": "none", "auth": False,
                      "fromEmail": "noreply@example.com", "fromName": "Acme",
                      "enqueue": enqueue}  # fmt: skip
        status, body = await http.call("POST", f"/v1/apps/{app}/servers", definition)
        assert status == 201, body
    return str(app)


async def send_many_rate(sink: int, count: int) -> dict[str, float]:
    connector = SmtpConnector({"host": "127.0.0.1", "port": sink, "ignoreTLS": True,
                               "fromEmail": "noreply@example.com", "fromName": "Acme"})  # fmt: skip
    requests = [{"to": r["to"], "usage_type": "SignIn", "payload": r["payload"]}
                for r in map(request, range(count))]  # fmt: skip
    async with connector:
        started, cpu = time.perf_counter(), time.process_time()
        await connector.send_many(requests, concurrency=50)
        return {"rate": count / (time.perf_counter() - started),
                "cpu_ms": (time.process_time() - cpu) * 1000 / count}  # fmt: skip


async def library_p50(sink: int, count: int = 300) -> float:
    connector = SmtpConnector({"host": "127.0.0.1", "port": sink, "ignoreTLS": True,
                               "fromEmail": "noreply@example.com"})  # fmt: skip
    async with connector:
        samples = []
        for i in range(count):
            started = time.perf_counter()
            await connector.send(f"user{i}@example.org", "SignIn", {"code": "123456"})
            samples.append(time.perf_counter() - started)
    return statistics.median(samples[20:])


async def run_serve(
    mode: str, sink: int, count: int, workdir: Path, wrk_seconds: float | None = None
) -> dict[str, float]:
    """One mode in a fresh `serve`; with `wrk_seconds`, loaded by wrk for that long."""
    port = free_port()
    with fresh_database(mode, "bench", workdir) as (url, name):
        environ = env(SMTP_CONNECTOR_DATABASE_URL=url)
        key = prepared(environ)
        serve = [str(BIN), "serve", "--port", str(port), "--log-level", "warning"]
        workers = []
        if mode == "postgres":
            serve.append("--no-worker")
            worker = [str(BIN), "worker", "--concurrency", "16", *WORKER_OPTIONS]
            workers = [worker for _ in range(PG_WORKERS)]
        with processes(serve, *workers, environ=environ) as pids:
            await wait_healthy(port)
            app = await setup_app(port, key, sink, enqueue=mode != "direct")
            await load(port, key, app, 200)  # warm up: connections, caches, JIT-free paths
            if mode != "direct":
                await wait_sent(port, key, 200)
            cpu = cpu_seconds(pids)
            db_cpu = backend_cpu(name) if mode == "postgres" else 0.0
            if wrk_seconds is None:
                latencies, started = await load(port, key, app, count)
                p50, p99 = statistics.median(latencies) * 1000, percentile(latencies, 99) * 1000
            else:
                started = time.perf_counter()
                loaded = await wrk_load(port, key, app, wrk_seconds, workdir)
                count, p50, p99 = int(loaded["count"]), loaded["p50_ms"], loaded["p99_ms"]
            finished = await wait_sent(port, key, count + 200) if mode != "direct" else (
                time.perf_counter()
            )  # fmt: skip
            result = {"rate": count / (finished - started), "p50_ms": p50, "p99_ms": p99,
                      "cpu_ms": (cpu_seconds(pids) - cpu) * 1000 / count}  # fmt: skip
            if mode == "postgres":
                result["db_cpu_ms"] = (backend_cpu(name) - db_cpu) * 1000 / count
            # One client, one request at a time: the latency a sign-up request sees when the
            # service is not saturated (direct: includes the SMTP exchange; queued: the 202).
            async with Http(port, key) as http:
                single = []
                for i in range(300):
                    t = time.perf_counter()
                    await http.call("POST", f"/v1/apps/{app}/messages", request(i))
                    single.append(time.perf_counter() - t)
            result["single_p50_ms"] = statistics.median(single[20:]) * 1000
            return result


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–" \
           f"{fmt.format(max(values))})"  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default="direct,sqlite,postgres")
    parser.add_argument("--pg-workers", type=int, default=PG_WORKERS)
    parser.add_argument("--worker-nice", type=int, help="the workers' --nice (default: theirs)")
    parser.add_argument("--load", default="python", help="python, wrk or python,wrk")
    parser.add_argument("--wrk-seconds", type=int, default=5)
    args = parser.parse_args()
    globals()["PG_WORKERS"] = args.pg_workers
    if args.worker_nice is not None:
        WORKER_OPTIONS.extend(["--nice", str(args.worker_nice)])
    modes = args.modes.split(",")
    loads = args.load.split(",")
    runs = [(m, kind) for m in modes for kind in loads]
    names = {(m, kind): m if kind == "python" else f"{m} ({kind})" for m, kind in runs}
    results: dict[str, list[dict[str, float]]] = {"send_many": []}
    results |= {names[run]: [] for run in runs}
    library: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, smtp_sink() as sink:
        for run in range(args.runs):
            results["send_many"].append(await send_many_rate(sink, args.count))
            library.append(await library_p50(sink) * 1000)
            for mode, kind in runs:
                seconds = args.wrk_seconds if kind == "wrk" else None
                name = names[mode, kind]
                results[name].append(await run_serve(mode, sink, args.count, Path(tmp), seconds))
                print(f"run {run + 1} {name}: {results[name][-1]}", file=sys.stderr)
    base = statistics.median(r["rate"] for r in results["send_many"])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nN = {args.count}, {args.runs} run(s), {CLIENTS} HTTP clients, smtp-sink; "
          f"median (min–max); load average at the end {load}\n")  # fmt: skip
    print("| path | msg/s | ÷ send_many | ÷ Kratos (10/s) | request p50 ms, 16 clients |"
          " request p99 ms, 16 clients | request p50 ms, 1 client |"
          " service CPU ms/msg |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for mode, rows in results.items():
        rates = [r["rate"] for r in rows]
        p50 = spread([r["p50_ms"] for r in rows], "{:.2f}") if "p50_ms" in rows[0] else "—"
        p99 = spread([r["p99_ms"] for r in rows], "{:.1f}") if "p99_ms" in rows[0] else "—"
        one = spread([r["single_p50_ms"] for r in rows], "{:.2f}") if "p50_ms" in rows[0] else "—"
        cpu = spread([r["cpu_ms"] for r in rows], "{:.2f}") if "cpu_ms" in rows[0] else "—"
        share, kratos = statistics.median(rates) / base, statistics.median(rates) / KRATOS_RATE
        print(f"| {mode} | {spread(rates)} | {share:.0%} | {kratos:,.0f}× | {p50} | {p99} | "
              f"{one} | {cpu} |")  # fmt: skip
    for mode, rows in results.items():
        if rows and "db_cpu_ms" in rows[0]:
            print(f"\n{mode}: PostgreSQL's backends' CPU ms/msg (not in the service's) "
                  f"{spread([r['db_cpu_ms'] for r in rows], '{:.2f}')}")  # fmt: skip
    if "direct" in results:
        overhead = [r["single_p50_ms"] - lib for r, lib in zip(results["direct"], library,
                                                                  strict=True)]  # fmt: skip
        print(f"\nDirect send, one client: HTTP p50 "
              f"{spread([r['single_p50_ms'] for r in results['direct']], '{:.2f}')} ms, "
              f"connector.send p50 {spread(library, '{:.2f}')} ms → API overhead p50 "
              f"{spread(overhead, '{:.2f}')} ms")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
