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
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sink import smtp_sink  # noqa: E402
from valgrind import instructions, require_valgrind  # noqa: E402

SMALL, LARGE = 300, 1300


def counted(python: str, loop: str, count: int, port: int) -> int:
    worker = [python, str(HERE / "cpu_worker.py"), loop, "5", str(count), str(port)]
    return instructions(worker, cwd=HERE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", default="uvloop,asyncio")
    parser.add_argument("--compare", default="", help="also count with this Python (another venv)")
    args = parser.parse_args()
    require_valgrind()
    trees = {"connector": sys.executable} | ({"compared": args.compare} if args.compare else {})
    with smtp_sink() as port:
        for loop in args.loops.split(","):
            for name, python in trees.items():
                small = counted(python, loop, SMALL, port)
                large = counted(python, loop, LARGE, port)
                per_message = (large - small) / (LARGE - SMALL)
                print(f"{name} ({loop}): {per_message:,.0f} instructions/msg", flush=True)


if __name__ == "__main__":
    main()
