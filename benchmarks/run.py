"""Throughput and latency benchmarks, all contenders side by side in one run.

    python benchmarks/run.py                 # N = 1k, 5k, 20k + latency, median of 3 (~15 min)
    python benchmarks/run.py --sizes 1000,5000 --repeat 1    # quicker

Needs postfix's `smtp-sink` (Debian package `postfix`) and, for the nodemailer column, Node.js;
nodemailer is installed with npm into benchmarks/.nodemailer (git-ignored) on first run.
Each contender runs in its own process against the same smtp-sink and sends the same SignIn
message (the shipped template, text + HTML). Results: printed, and benchmarks/results/latest.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from latency import measure  # noqa: E402
from messages import write_reference  # noqa: E402
from sink import smtp_sink  # noqa: E402

NODEMAILER_DIR = HERE / ".nodemailer"
PYTHON_CONTENDERS = ("connector", "aiosmtplib", "smtplib")


def ensure_nodemailer() -> bool:
    """Install nodemailer into the ignored folder if Node is there; False if it cannot be had."""
    if not shutil.which("node") or not shutil.which("npm"):
        print("node/npm not found: skipping nodemailer", file=sys.stderr)
        return False
    if not (NODEMAILER_DIR / "node_modules" / "nodemailer").is_dir():
        NODEMAILER_DIR.mkdir(exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(NODEMAILER_DIR),
                "nodemailer",
            ],
            check=True,
        )
    return True


def run_python(mode: str, port: int, count: int) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, str(HERE / "bench_python.py"), mode, str(port), str(count)],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run_nodemailer(port: int, count: int, reference: Path) -> dict[str, Any]:
    output = subprocess.run(
        ["node", str(HERE / "nodemailer_bench.js"), str(port), str(count), str(reference)],
        check=True,
        capture_output=True,
        text=True,
        env={"NODEMAILER_DIR": str(NODEMAILER_DIR), "PATH": shutil.os.environ["PATH"]},
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate (the machine is shared; single runs are noisy)."""
    ranked = sorted(runs, key=lambda r: r["count"] / r["seconds"])
    return ranked[len(ranked) // 2]


def throughput(
    sizes: list[int], with_node: bool, repeat: int
) -> dict[int, dict[str, dict[str, Any]]]:
    results: dict[int, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        reference = Path(folder) / "message.json"
        write_reference(reference)
        with smtp_sink() as port:
            for count in sizes:
                row: dict[str, dict[str, Any]] = {}
                for mode in PYTHON_CONTENDERS:
                    row[mode] = _median_run([run_python(mode, port, count) for _ in range(repeat)])
                if with_node:
                    row["nodemailer"] = _median_run(
                        [run_nodemailer(port, count, reference) for _ in range(repeat)]
                    )
                for name, result in row.items():
                    result["rate"] = result["count"] / result["seconds"]
                    print(
                        f"N={count:>6} {name:<11} {result['rate']:8.0f} msg/s "
                        f"rss {result['rss_mb']:6.1f} MB errors {result['errors']}",
                        file=sys.stderr,
                    )
                results[count] = row
    return results


def _median_latency(runs: list[dict[str, float]]) -> dict[str, float]:
    ranked = sorted(runs, key=lambda r: r["warm_p50_ms"] / r["cold_p50_ms"])
    return ranked[len(ranked) // 2]


def render_table(results: dict[int, dict[str, dict[str, Any]]], latency: dict[str, float]) -> str:
    contenders = list(next(iter(results.values())).keys())
    lines = [
        "| N | "
        + " | ".join(f"{c} msg/s" for c in contenders)
        + " | connector ÷ nodemailer | connector ÷ aiosmtplib | connector peak RSS |",
        "|---" * (len(contenders) + 4) + "|",
    ]
    for count, row in results.items():
        rate = {name: r["rate"] for name, r in row.items()}
        vs_node = f"{rate['connector'] / rate['nodemailer']:.1f}×" if "nodemailer" in rate else "–"
        lines.append(
            f"| {count:,} | "
            + " | ".join(f"{rate[c]:,.0f}" for c in contenders)
            + f" | {vs_node} | {rate['connector'] / rate['aiosmtplib']:.1f}× "
            f"| {row['connector']['rss_mb']:.0f} MB |"
        )
    sizes = sorted(results)
    if len(sizes) > 1:
        first, last = results[sizes[0]]["connector"], results[sizes[-1]]["connector"]
        change = (last["rate"] / first["rate"] - 1) * 100
        lines.append(f"\nConnector throughput at N={sizes[-1]:,} vs N={sizes[0]:,}: {change:+.1f}%")
    lines.append(
        f"\nSingle send over STARTTLS+AUTH: warm pool p50 {latency['warm_p50_ms']:.2f} ms "
        f"(p99 {latency['warm_p99_ms']:.2f}), cold connection p50 {latency['cold_p50_ms']:.2f} ms "
        f"(p99 {latency['cold_p99_ms']:.2f}); warm/cold = "
        f"{latency['warm_p50_ms'] / latency['cold_p50_ms'] * 100:.0f}%"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--skip-node", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median counts")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with_node = not args.skip_node and ensure_nodemailer()
    results = throughput(sizes, with_node, args.repeat)
    latency = _median_latency([measure() for _ in range(args.repeat)])
    table = render_table(results, latency)
    print(table)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(table + "\n")
    (out / "latest.json").write_text(json.dumps({"throughput": results, "latency": latency}))


if __name__ == "__main__":
    main()
