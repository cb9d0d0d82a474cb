"""`smtp-connector worker` lowers its own CPU priority when asked (`--nice`,
$SMTP_CONNECTOR_WORKER_NICE; by default it runs as started), every thread of it: on a host
shared with `serve` and the database, requests waiting for their 202 go first (issue 26 §1).
It never raises its priority:
a worker started under a higher nice keeps it, and a negative value is refused. Real worker
processes on SQLite and on PostgreSQL; Linux's /proc says each thread's nice value.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_crash import enqueue, smtp, start_worker, stop

from smtp_connector.cli import main

__all__ = ["smtp"]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def thread_nices(pid: int) -> dict[int, int]:
    """Each thread's nice value (/proc/PID/task/TID/stat, field 19)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        found[int(task.name)] = int(fields[16])
    return found


def started(process: subprocess.Popen[bytes], log: Path) -> dict[int, int]:
    """The worker's threads' nice values once it says it started (and a moment after, so
    the threads it starts for its first work are there too)."""
    deadline = time.monotonic() + 60
    while "worker started" not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    time.sleep(1.0)
    return thread_nices(process.pid)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    return str(request.getfixturevalue("queue_url_postgres"))


@pytest.mark.parametrize(
    ("options", "env", "expected"),
    [([], None, 0), (["--nice", "15"], None, 15), ([], "19", 19), (["--nice", "0"], "19", 0)],
    ids=["default", "option", "environment", "option-over-environment"],
)
async def test_every_thread_of_a_worker_runs_at_the_asked_nice(
    url: str, tmp_path: Path, smtp: object, options: list[str], env: str | None, expected: int
) -> None:
    queue = await enqueue(url, smtp.port, 20)  # type: ignore[attr-defined]
    await queue.aclose()
    log = tmp_path / "worker.log"
    worker = start_worker(url, log, *options, environment={"SMTP_CONNECTOR_WORKER_NICE": env})
    try:
        nices = started(worker, log)
    finally:
        stop(worker)
    base = os.getpriority(os.PRIO_PROCESS, 0)  # `--nice 0`: as started
    assert set(nices.values()) == {max(base, expected) if expected else base}, nices
    assert len(nices) >= 2, nices  # the loop's helper threads were checked too, not only main


def test_a_worker_started_lower_keeps_its_priority(tmp_path: Path) -> None:
    """Asked for 10 under `nice -n 15`: still 15 (a worker never raises its own priority)."""
    code = ("import os; from smtp_connector.cli.worker_cmd import yield_cpu; yield_cpu(10); "
            "print(os.getpriority(os.PRIO_PROCESS, 0))")  # fmt: skip
    done = subprocess.run(["nice", "-n", "15", sys.executable, "-c", code], capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert int(done.stdout) == max(15, os.getpriority(os.PRIO_PROCESS, 0))


@pytest.mark.parametrize("value", ["-1", "20", "ten"])
def test_a_nice_outside_0_to_19_is_refused_before_anything_starts(value: str) -> None:
    result = CliRunner().invoke(main, ["worker", "--nice", value])
    assert result.exit_code == 2
    assert "0<=x<=19" in result.output or "is not a valid integer" in result.output, result.output


@pytest.mark.parametrize("value", ["-5", "20", "high", "1.5"])
def test_a_bad_environment_value_names_the_variable_and_the_range(value: str) -> None:
    result = CliRunner().invoke(main, ["worker"], env={"SMTP_CONNECTOR_WORKER_NICE": value})
    assert result.exit_code == 2
    assert "SMTP_CONNECTOR_WORKER_NICE must be a whole number from 0 to 19" in result.output
    assert repr(value) in result.output


def test_a_huge_environment_value_is_not_echoed_whole() -> None:
    value = "9" * 100_000
    result = CliRunner().invoke(main, ["worker"], env={"SMTP_CONNECTOR_WORKER_NICE": value})
    assert result.exit_code == 2
    assert "SMTP_CONNECTOR_WORKER_NICE must be a whole number from 0 to 19" in result.output
    assert len(result.output) < 400, len(result.output)
