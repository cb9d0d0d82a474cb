"""The library logs and never prints: a retried attempt is a log record on `smtp_connector`,
nothing on stderr unless the app configured logging or the config says `logger: true`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from smtp_servers import MakeServer, config_for

from smtp_connector import SmtpConnector

SEND = """
import json, sys
from smtp_connector import SmtpConnector
connector = SmtpConnector(json.loads(sys.argv[1]))
result = connector.send_sync("ana@example.org", "SignIn", {"code": "482913"})
connector.close()
print(result.attempts)
"""
RETRY = {"attempts": 3, "initialDelay": 10, "maxDelay": 20}


def _send_in_a_fresh_process(config: dict) -> subprocess.CompletedProcess[str]:
    """A process of its own: no pytest capture or logging setup can hide what gets printed."""
    return subprocess.run(
        [sys.executable, "-c", SEND, json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("logger", [False, None])
def test_retries_print_nothing_without_logger(make_server: MakeServer, logger: bool | None) -> None:
    server = make_server(data_replies=["451 4.3.0 try again later"])
    config = config_for(server, retry=RETRY)
    if logger is not None:
        config["logger"] = logger
    done = _send_in_a_fresh_process(config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"  # the first attempt got 451, the second went through
    assert done.stderr == ""
    assert len(server.handler.messages) == 1


def test_logger_true_logs_the_retry_to_stderr(make_server: MakeServer) -> None:
    server = make_server(data_replies=["451 4.3.0 try again later"])
    done = _send_in_a_fresh_process(config_for(server, retry=RETRY, logger=True))
    assert done.returncode == 0, done.stderr
    assert "attempt failed" in done.stderr and "451" in done.stderr
    assert "482913" not in done.stderr  # the code is never logged


async def test_retry_is_a_log_record_with_fields(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(data_replies=["451 4.3.0 try again later"])
    caplog.set_level(logging.INFO, logger="smtp_connector")
    async with SmtpConnector(config_for(server, retry=RETRY)) as connector:
        result = await connector.send("ana@example.org", "SignIn", {"code": "482913"})
    failed = [r for r in caplog.records if r.getMessage().startswith("attempt failed")]
    assert len(failed) == 1
    assert failed[0].name.startswith("smtp_connector")
    assert failed[0].levelno == logging.WARNING
    assert (failed[0].smtp_code, failed[0].attempt) == (451, 1)  # type: ignore[attr-defined]
    assert result.attempts == 2
