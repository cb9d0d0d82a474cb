"""A failed attempt's log line in the service's terms (server/access_log.py's `ServiceTerms`).

A real worker's log is checked in tests/queue/test_worker_log.py; here, what the filter does
with a record that is not the library's: it leaves it as it was and never raises (a logging
filter that raises loses the line and prints a traceback to stderr instead).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)

from smtp_connector.errors import Cause, ConnectorError, ErrorCode
from smtp_connector.server.access_log import ServiceTerms


def _record(text: str, fields: Any) -> logging.LogRecord:
    record = logging.LogRecord("smtp_connector.delivery", logging.WARNING, __file__, 1,
                               "attempt failed: %s", (text,), None)  # fmt: skip
    record.connector_error = fields
    return record


def test_a_refused_login_is_worded_with_the_definitions_fields() -> None:
    error = ConnectorError(
        ErrorCode.AUTH_FAILED, "Authentication failed (check auth.user and auth.pass)",
        smtp_code=535, server="mail.example.com:587", cause=Cause.AUTH_REFUSED,
        server_message="5.7.8 Authentication credentials invalid",
    )  # fmt: skip
    record = _record(str(error), error.to_dict())
    assert ServiceTerms().filter(record)
    line = record.getMessage()
    assert line.startswith("attempt failed: [auth_failed] 535 ")
    assert "`username`" in line and "`password`" in line and "auth.user" not in line
    assert "5.7.8 Authentication credentials invalid" in line  # the server's own words kept


@pytest.mark.parametrize(
    "fields",
    [None, "text", {}, {"code": "no_such_code"}, {"code": "auth_failed", "cause": "nope"},
     {"code": "auth_failed", "message": "another error's text"}],
    ids=["none", "str", "empty", "unknown-code", "unknown-cause", "other-message"],
)  # fmt: skip
def test_a_record_that_is_not_the_librarys_is_left_as_it_was(fields: Any) -> None:
    record = _record("[auth_failed] check auth.user", fields)
    assert ServiceTerms().filter(record)
    assert record.getMessage() == "attempt failed: [auth_failed] check auth.user"
