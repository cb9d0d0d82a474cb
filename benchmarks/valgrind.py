"""Counting a process's user-space instructions with valgrind (callgrind): the figure the
`*_instructions.py` benchmarks compare between trees, because, unlike CPU time, it does not
move with what else runs on a shared machine."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path


def require_valgrind() -> None:
    """Stop with the command that installs it (Debian's package) when it is missing."""
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind not found: apt-get install valgrind")


def instructions(command: list[str], cwd: Path | None = None) -> int:
    """Instructions `command` ran under callgrind (all its threads), start to exit."""
    args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    run = subprocess.run(args, capture_output=True, text=True, cwd=cwd, check=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no count:\n{run.stderr[-2000:]}")
    return int(found.group(1))
