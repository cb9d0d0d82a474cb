"""What `smtp-connector worker` writes to its log (serve's redacting handlers, `--log-level`,
default warning): a failed delivery is said, with no password, key or code in the line; a
mistyped level is refused before anything starts. A real worker process on SQLite, aiosmtpd
refusing the definition's password.
"""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner
from service_support import SECRET_KEY, SMTP_PASSWORD, loopback_policy
from test_crash import smtp, start_worker, stop

from smtp_connector.cli import main
from smtp_connector.queue import Queue, QueueOptions
from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, MessageRequest, Service

__all__ = ["smtp"]  # the aiosmtpd fixture (its only user: mailer@example.com, SMTP_PASSWORD)

WRONG_PASSWORD = "not-the-password-7f3a9c"  # what the log must never show
CODE = "904417"


async def enqueue_refused(url: str, port: int) -> None:
    """One queued message through a definition whose password the server refuses."""
    queue = Queue(url, QueueOptions())
    service = await Service.open(
        url, SECRET_KEY, migrate=True, sender=queue.sender_factory, policy=loopback_policy()
    )
    await queue.start(worker=False)
    try:
        app = await service.apps.create(CLI_ACTOR, AppCreate(name="refused"))
        await service.definitions.create(CLI_ACTOR, app.id, DefinitionCreate(
            host="127.0.0.1", port=port, security="none", username="mailer@example.com",
            password=WRONG_PASSWORD, from_email="noreply@example.com", timeout=5, enqueue=True,
        ))  # fmt: skip
        request = MessageRequest(to="u@example.org", usage_type="SignIn", payload={"code": CODE})
        await service.messages.send(CLI_ACTOR, app.id, request)
    finally:
        await service.aclose()
        await queue.aclose()


async def test_a_failed_delivery_is_logged_without_secrets(tmp_path: Path, smtp: object) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    await enqueue_refused(url, smtp.port)  # type: ignore[attr-defined]
    log = tmp_path / "worker.log"
    worker = start_worker(url, log)
    try:
        deadline = time.monotonic() + 60
        while "attempt failed" not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"nothing logged:\n{log.read_text()}"
            time.sleep(0.1)
    finally:
        stop(worker)
    text = log.read_text()
    assert "WARNING" in text and "smtp_connector" in text, text  # serve's format, our logger
    for secret in (WRONG_PASSWORD, SMTP_PASSWORD, SECRET_KEY, CODE):
        assert secret not in text, (secret, text)
    assert " INFO " not in text  # the default level: no line per attempt that went well


def test_a_mistyped_log_level_is_refused_with_the_choices() -> None:
    result = CliRunner().invoke(main, ["worker", "--log-level", "verbose"])
    assert result.exit_code == 2
    assert "'verbose' is not one of" in result.output
    assert "'warning'" in result.output and "'debug'" in result.output
