"""What `smtp-connector worker` writes to its log (serve's redacting handlers, `--log-level`,
default warning): a failed delivery is said, in the API's terms (`username`, not the library's
`auth.user`), with no password, key or code in the line, at the
default level and at `debug` (an operator turning the level up to see more); a mistyped level
is refused before anything starts. A real worker process on SQLite, aiosmtpd refusing the
definition's password.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from service_support import SECRET_KEY, SMTP_PASSWORD
from test_crash import enqueue, smtp, start_worker, stop

from smtp_connector.cli import main

__all__ = ["smtp"]  # the aiosmtpd fixture (its only user: mailer@example.com, SMTP_PASSWORD)

WRONG_PASSWORD = "not-the-password-7f3a9c"  # what the log must never show
CODE = "000000"  # the code `enqueue` gives its first message


@pytest.mark.parametrize("level", [None, "debug"], ids=["default", "debug"])
async def test_a_failed_delivery_is_logged_without_secrets(
    tmp_path: Path, smtp: object, level: str | None
) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    queue = await enqueue(url, smtp.port, 1, password=WRONG_PASSWORD)  # type: ignore[attr-defined]
    await queue.aclose()
    log = tmp_path / "worker.log"
    worker = start_worker(url, log, *(["--log-level", level] if level else []))
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
    assert "auth_failed" in text  # what went wrong, in the log
    # In the service's words, as the message's lastError says it: the definition's fields, not
    # the library's config keys.
    assert "`username`" in text and "`password`" in text, text
    assert "auth.user" not in text and "auth.pass" not in text, text
    for secret in (WRONG_PASSWORD, SMTP_PASSWORD, SECRET_KEY, f"{CODE}"):
        assert secret not in text, (secret, text)
    if level is None:
        assert " INFO " not in text and "DEBUG" not in text  # no line per attempt by default


def test_a_mistyped_log_level_is_refused_with_the_choices() -> None:
    result = CliRunner().invoke(main, ["worker", "--log-level", "verbose"])
    assert result.exit_code == 2
    assert "'verbose' is not one of" in result.output
    assert "'warning'" in result.output and "'debug'" in result.output
