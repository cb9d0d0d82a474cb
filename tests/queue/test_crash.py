"""Crashes and many workers, with real processes: `smtp-connector worker` killed with SIGKILL
mid-run and restarted (SQLite, embedded engine; PostgreSQL, procrastinate), and two
procrastinate workers in two processes draining one queue. The SMTP server (aiosmtpd, in
this process) counts what it received per recipient; the outbox says what it believes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from queue_support import outbox_rows, wait_for
from service_support import SECRET_KEY, SMTP_PASSWORD, env_with, loopback_policy
from smtp_servers import Behaviour, TestServer
from sqlalchemy import func, select

from smtp_connector.queue import Queue, QueueOptions
from smtp_connector.queue.tables import attempts
from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, MessageRequest, Service

CONCURRENCY = 8


@pytest.fixture
def smtp() -> Iterator[TestServer]:
    users = {"mailer@example.com": SMTP_PASSWORD}
    server = TestServer(behaviour=Behaviour(users=users)).start()
    yield server
    server.stop()


def received_per_recipient(server: TestServer) -> Counter[str]:
    return Counter(rcpt for message in list(server.messages) for rcpt in message.rcpt_tos)


async def enqueue(url: str, port: int, count: int, *, password: str = SMTP_PASSWORD) -> Queue:
    """An app with one `enqueue` definition (its SMTP password `password`) and `count` queued
    messages to u{i}@example.org with code f"{i:06d}" (through the service's own send path;
    no worker runs in this process)."""
    queue = Queue(url, QueueOptions())
    service = await Service.open(
        url, SECRET_KEY, migrate=True, sender=queue.sender_factory, policy=loopback_policy()
    )
    await queue.start(worker=False)
    try:
        app = await service.apps.create(CLI_ACTOR, AppCreate(name="crash"))
        await service.definitions.create(CLI_ACTOR, app.id, DefinitionCreate(
            host="127.0.0.1", port=port, security="none", username="mailer@example.com",
            password=password, from_email="noreply@example.com", timeout=5, enqueue=True,
        ))  # fmt: skip
        for start in range(0, count, 200):
            await asyncio.gather(*(
                service.messages.send(CLI_ACTOR, app.id, MessageRequest(
                    to=f"u{i}@example.org", usage_type="SignIn", payload={"code": f"{i:06d}"}))
                for i in range(start, min(start + 200, count))
            ))  # fmt: skip
    finally:
        await service.aclose()
    return Queue(url, QueueOptions())  # a fresh handle for reading the outbox afterwards


def start_worker(
    url: str, log: Path, *options: str, name: str | None = None,
    environment: dict[str, str | None] | None = None,
) -> subprocess.Popen[bytes]:  # fmt: skip
    exe = Path(sys.executable).with_name("smtp-connector")
    args = [str(exe), "worker", "--database-url", url, "--concurrency", str(CONCURRENCY)]
    args += options
    if name:
        args += ["--name", name]
    env = env_with(SMTP_CONNECTOR_SECRET_KEY=SECRET_KEY, SMTP_CONNECTOR_QUEUE_LEASE="30",
                   **(environment or {}))  # fmt: skip
    return subprocess.Popen(args, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def settled(queue: Queue, timeout: float) -> list:
    """The outbox once no row is queued or being sent."""
    return await wait_for(
        lambda: outbox_rows(queue),
        lambda rows: all(r.status not in ("queued", "sending") for r in rows),
        timeout, step=0.5,
    )  # fmt: skip


async def test_sigkill_mid_run_loses_nothing_and_sends_nothing_twice(
    queue_url: str, tmp_path: Path, smtp: TestServer
) -> None:
    total = 2000
    url = queue_url
    engine = "sqlite" if url.startswith("sqlite") else "postgres"
    queue = await enqueue(url, smtp.port, total)
    log = tmp_path / "worker.log"
    first = start_worker(url, log)
    try:
        deadline = time.monotonic() + 60
        while len(smtp.messages) < total // 4:
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"worker too slow:\n{log.read_text()}"
            await asyncio.sleep(0.01)
        os.kill(first.pid, signal.SIGKILL)  # mid-run: DATA of some messages is in flight
        first.wait()
        at_kill = len(smtp.messages)
        assert at_kill < total, "the run ended before the kill; nothing was tested"
        second = start_worker(url, log)
        try:
            rows = await settled(queue, timeout=120)
        finally:
            stop(second)
        await asyncio.sleep(0.5)  # anything still arriving would be a duplicate: let it
    finally:
        stop(first)
        await queue.aclose()

    received = received_per_recipient(smtp)
    status = Counter(r.status for r in rows)
    unknown = [r for r in rows if r.status == "failed"]
    in_flight_received = sum(1 for r in unknown if received[r.recipient])
    print(f"\n[{engine}] {total} queued, {at_kill} received before SIGKILL; afterwards "
          f"{status['sent']} sent, {len(unknown)} in flight at the kill (delivery unknown: "
          f"{in_flight_received} had reached the server, {len(unknown) - in_flight_received} "
          f"had not); duplicates: {sum(1 for n in received.values() if n > 1)}")  # fmt: skip

    assert len(rows) == total and set(status) <= {"sent", "failed"}, status
    assert max(received.values()) == 1, "a message was sent twice"
    assert len(unknown) <= CONCURRENCY
    assert all(r.last_error and r.last_error.get("deliveryUnknown") for r in unknown)
    sent = {r.recipient for r in rows if r.status == "sent"}
    assert all(received[rcpt] == 1 for rcpt in sent)  # every sent row arrived exactly once
    missing = {f"u{i}@example.org" for i in range(total)} - set(received)
    assert missing <= {r.recipient for r in unknown}  # only in-flight ones may be missing


async def test_two_procrastinate_workers_drain_5000_without_duplicates(
    queue_url_postgres: str, tmp_path: Path, smtp: TestServer
) -> None:
    total = 5000
    queue = await enqueue(queue_url_postgres, smtp.port, total)
    log = tmp_path / "workers.log"
    workers = [start_worker(queue_url_postgres, log, name=f"drain-{n}") for n in (1, 2)]
    try:
        rows = await settled(queue, timeout=240)
    finally:
        for process in workers:
            stop(process)
    query = select(attempts.c.worker_id, func.count()).group_by(attempts.c.worker_id)
    by_worker = dict(await queue.db.read(lambda conn: list(conn.execute(query).all())))
    await queue.aclose()
    received = received_per_recipient(smtp)
    print(f"\n5000 drained by 2 workers: {by_worker}")
    assert Counter(r.status for r in rows) == {"sent": total}
    assert len(received) == total and max(received.values()) == 1
    assert set(by_worker) == {"drain-1", "drain-2"} and min(by_worker.values()) > 0
