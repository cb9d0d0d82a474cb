"""CPU cost per message: the connector on asyncio and on uvloop, beside postfix's own C client and
nodemailer's pool, at the same connection counts, against the same smtp-sink, in one run.

    python benchmarks/cpu.py          # 3,000 SignIn mails, 1/5/10 connections, median of 3
    python benchmarks/cpu.py --connections 5 --repeat 1 --skip-node     # quicker
    python benchmarks/cpu.py --connections 5 --compare ../base/.venv/bin/python   # before/after

Per cell: msg/s (wall) and µs of CPU per message (the sender's user + system time ÷ messages).
- connector: `benchmarks/cpu_worker.py`, warmed up first (pool open, templates compiled), then
  `send_many(concurrency = 2 × connections)` of COUNT mails, shipped SignIn template, DKIM off.
- smtp-source: `smtp-source -d -s CONNECTIONS -l LENGTH -m COUNT` (C, sessions reused with -d,
  lock-step, no pipelining), LENGTH = the size of the connector's SignIn message; its CPU from
  wait4() on the process.
- nodemailer: `nodemailer_bench.js` with `pool: true, maxConnections`, warmed up the same way.
Runs are interleaved (each repeat runs every contender once) so load on a shared machine hits
them alike. Results: printed, and benchmarks/results/cpu.md (+ .json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from messages import write_reference  # noqa: E402
from run import NODEMAILER_DIR, ensure_nodemailer  # noqa: E402
from sink import smtp_sink  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
WARM_UP = 300


def connector_run(
    loop: str, connections: int, count: int, port: int, python: str = sys.executable
) -> dict[str, Any]:
    output = subprocess.run(
        [
            python,
            str(HERE / "cpu_worker.py"),
            loop,
            str(connections),
            str(count),
            str(port),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def smtp_source_run(connections: int, count: int, port: int, length: int) -> dict[str, Any]:
    args = [SMTP_SOURCE, "-d", "-s", str(connections), "-l", str(length), "-m", str(count)]
    args += ["-f", "noreply@example.com", "-t", "user@example.org", f"127.0.0.1:{port}"]
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "count": count,
        "seconds": seconds,
        "cpu_s": cpu,
        "cpu_us_per_msg": cpu / count * 1e6,
        "rate": count / seconds,
        "errors": 0 if process.returncode == 0 else count,
    }


def nodemailer_run(connections: int, count: int, port: int, reference: Path) -> dict[str, Any]:
    output = subprocess.run(
        ["node", str(HERE / "nodemailer_bench.js"), str(port), str(count), str(reference),
         str(connections), str(WARM_UP)],
        check=True,
        capture_output=True,
        text=True,
        env={"NODEMAILER_DIR": str(NODEMAILER_DIR), "PATH": os.environ["PATH"]},
    ).stdout  # fmt: skip
    result = json.loads(output.strip().splitlines()[-1])
    result["rate"] = result["count"] / result["seconds"]
    result["cpu_us_per_msg"] = result["cpu_s"] / result["count"] * 1e6
    return result


def message_length() -> int:
    """Bytes of the SignIn message the connector sends (for smtp-source's -l)."""
    from smtp_connector import SmtpConnector

    connector = SmtpConnector(
        {"transport": "memory", "fromEmail": "noreply@example.com", "fromName": "Acme"}
    )
    rendered = connector.render(
        "SignIn", {"code": "123456", "application": {"name": "Acme"}}, to="user@example.org"
    )
    return len(rendered.as_bytes())


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by rate, with the spread of rate and CPU over all runs."""
    ranked = sorted(runs, key=lambda r: r["rate"])
    middle = dict(ranked[len(ranked) // 2])
    middle["rate_spread"] = (ranked[0]["rate"], ranked[-1]["rate"])
    cpus = [r["cpu_us_per_msg"] for r in runs]
    middle["cpu_median"] = statistics.median(cpus)
    middle["cpu_spread"] = (min(cpus), max(cpus))
    middle["errors"] = max(r["errors"] for r in runs)
    return middle


def measure(args: argparse.Namespace) -> dict[str, dict[int, dict[str, Any]]]:
    contenders: dict[str, Any] = {}
    for loop in args.loops.split(","):
        contenders[f"connector ({loop})"] = lambda c, n, p, loop=loop: connector_run(loop, c, n, p)
        if args.compare:  # another tree's interpreter (its venv), e.g. main before a change
            contenders[f"compared ({loop})"] = lambda c, n, p, loop=loop: connector_run(
                loop, c, n, p, args.compare
            )
    length = message_length()
    contenders["smtp-source -d"] = lambda c, n, p: smtp_source_run(c, n, p, length)
    with tempfile.TemporaryDirectory() as folder:
        reference = Path(folder) / "message.json"
        write_reference(reference)
        if not args.skip_node and ensure_nodemailer():
            contenders["nodemailer pool"] = lambda c, n, p: nodemailer_run(c, n, p, reference)
        results: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in contenders}
        with smtp_sink() as port:
            for connections in [int(c) for c in args.connections.split(",")]:
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
                for _ in range(args.repeat):  # interleaved: load changes hit every contender
                    for name, run in contenders.items():
                        runs[name].append(run(connections, args.count, port))
                for name in contenders:
                    cell = results[name][connections] = summarise(runs[name])
                    print(
                        f"{name:<20} {connections:>2} conn: {cell['rate']:8,.0f} msg/s "
                        f"{cell['cpu_median']:7.1f} µs CPU/msg  errors {cell['errors']}",
                        file=sys.stderr,
                    )
    return results


def table(results: dict[str, dict[int, dict[str, Any]]], count: int, repeat: int) -> str:
    connections = sorted(next(iter(results.values())))
    head = " | ".join(f"{c} conn: msg/s · µs CPU/msg" for c in connections)
    lines = [f"| sender | {head} |", "|---" * (len(connections) + 1) + "|"]
    for name, cells in results.items():
        row = []
        for c in connections:
            cell = cells[c]
            low, high = cell["rate_spread"]
            row.append(
                f"{cell['rate']:,.0f} ({low:,.0f}–{high:,.0f}) · {cell['cpu_median']:.0f} "
                f"({cell['cpu_spread'][0]:.0f}–{cell['cpu_spread'][1]:.0f})"
            )
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    lines.append(
        f"\n{count:,} SignIn mails per run, median of {repeat} (range in brackets); "
        "CPU = the sender's user + system time ÷ messages."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--connections", default="1,5,10")
    parser.add_argument("--loops", default="asyncio,uvloop")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-node", action="store_true")
    parser.add_argument(
        "--compare", default="", help="also run the connector with this Python (another venv)"
    )
    args = parser.parse_args()
    results = measure(args)
    text = table(results, args.count, args.repeat)
    print(text)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "cpu.md").write_text(text + "\n")
    (out / "cpu.json").write_text(json.dumps(results, default=list))


if __name__ == "__main__":
    main()
