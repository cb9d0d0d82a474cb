"""Counting a process's user-space instructions with valgrind (callgrind): the figure the
`*_instructions.py` benchmarks compare between trees, because, unlike CPU time, it does not
move with what else runs on a shared machine."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path


def require_valgrind() -> None:
    """Stop with the command that installs it (Debian's package) when it is missing."""
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind not found: apt-get install valgrind")


def instructions(
    command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> int:
    """Instructions `command` ran under callgrind (all its threads), start to exit; `env`:
    its environment (default: this process's)."""
    args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    run = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, check=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no count:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def instructions_per_thread(command: list[str], names: dict[str, str]) -> dict[str, int]:
    """Instructions `command` ran under callgrind, per thread: `names` maps callgrind's thread
    number ("01" is the main thread) to a name; threads not named count as "other threads"."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cg.out"
        args = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                f"--callgrind-out-file={out}", *command]  # fmt: skip
        subprocess.run(args, capture_output=True, check=True)
        totals: dict[str, int] = {}
        for path in sorted(Path(folder).glob("cg.out-*")):
            found = re.search(r"^summary: (\d+)", path.read_text(errors="replace"), re.M)
            name = names.get(path.name.rsplit("-", 1)[1], "other threads")
            totals[name] = totals.get(name, 0) + int(found.group(1) if found else 0)
        return totals
