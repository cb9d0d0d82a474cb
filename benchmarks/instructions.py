"""User-space instructions per message of the connector's `send_many`, counted by valgrind: a
figure that, unlike CPU time, does not move with what else runs on a shared machine.

    python benchmarks/instructions.py                       # uvloop and asyncio, this tree
    python benchmarks/instructions.py --compare ../base/.venv/bin/python     # before/after

`benchmarks/cpu_worker.py` (5 connections, warmed up) runs under `valgrind --tool=callgrind`
twice, with SMALL and LARGE messages, against the same smtp-sink; (instructions at LARGE −
instructions at SMALL) ÷ (LARGE − SMALL) is what one more message costs, start-up and warm-up
cancelled out. The kernel's socket work is not counted, and valgrind slows the process ~50×,
so the sink's replies are always waiting: a measure of the Python side, not of the loop's
timing. Needs Debian's `valgrind`; about 90 s per tree and loop.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sink import smtp_sink  # noqa: E402

SMALL, LARGE = 300, 1300


def instructions(python: str, loop: str, count: int, port: int) -> int:
    args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python]
    args += [str(HERE / "cpu_worker.py"), loop, "5", str(count), str(port)]
    run = subprocess.run(args, capture_output=True, text=True, cwd=HERE, check=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no count:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", default="uvloop,asyncio")
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind not found: apt-get install valgrind")
    trees = {"connector": sys.executable} | ({"compared": args.compare} if args.compare else {})
    with smtp_sink() as port:
        for loop in args.loops.split(","):
            for name, python in trees.items():
                small = instructions(python, loop, SMALL, port)
                large = instructions(python, loop, LARGE, port)
                per_message = (large - small) / (LARGE - SMALL)
                print(f"{name} ({loop}): {per_message:,.0f} instructions/msg", flush=True)


if __name__ == "__main__":
    main()
