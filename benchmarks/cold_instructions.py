"""Instructions of a cold start, counted by valgrind: process start → import → build → one
SignIn mail accepted by a local `smtp-sink` (benchmarks/cold_start.py's connector program).

    python benchmarks/cold_instructions.py                                  # this tree
    python benchmarks/cold_instructions.py --compare ../base/.venv/bin/python
    python benchmarks/cold_instructions.py --logto ...   # a Logto config, with its templates

Compiled bytecode is written by one unmeasured run first (as `pip install` leaves it). Unlike
CPU time, the count does not move with what else runs on a shared machine; the interpreter's
own start and `import asyncio` are in it (the same in both trees). Needs Debian's `valgrind`
and postfix's `smtp-sink`; about half a minute per tree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from sink import smtp_sink
from valgrind import instructions, require_valgrind

CHILD = Path(__file__).resolve().parent / "cold_start.py"


def counted(python: str, port: int, child: str = "connector") -> int:
    """Instructions of one cold start under `python`, after an unmeasured run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [python, str(CHILD), child, str(port)]
    subprocess.run(command, capture_output=True, check=True, env=env)
    return instructions(command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    parser.add_argument(
        "--logto", action="store_true", help="cold_start.py's Logto config (its own templates)"
    )
    args = parser.parse_args()
    child = "connector-logto" if args.logto else "connector"
    require_valgrind()
    trees = {"this tree": sys.executable} | ({"compared": args.compare} if args.compare else {})
    with smtp_sink() as port:
        counts = {tree: counted(python, port, child) for tree, python in trees.items()}
    print("| tree | million instructions: start → first 250 |")
    print("|---|---|")
    for tree, count in counts.items():
        print(f"| {tree} | {count / 1e6:,.1f} |")
    if args.compare:
        change = counts["this tree"] / counts["compared"] - 1
        print(f"\nthis tree against compared: {change:+.1%}")


if __name__ == "__main__":
    main()
