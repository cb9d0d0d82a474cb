"""Findings 10 and 12 (LOW), the logging half: what `serve` writes to its log.

The package's own records never reached `serve`'s log (a NullHandler and nothing configured),
so a 5xx left no trace there, the short path's included; and `--log-level trace` wrote each
request's query string (a password put in a URL, in clear). Against a real `serve`: a database
failure on the short path and on a full route is a 503 whose traceback is in the log, under the
package's logger name; at trace level the log shows uvicorn's per-request trace lines but no
query string, no key, no cookie.
"""

from __future__ import annotations

import sqlite3
import time

import httpx
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from edge_support import Served

PASSWORD_IN_URL = "Query-pa55word-in-a-URL"


def test_trace_logging_hides_query_strings_and_credentials(edge_serve: Served) -> None:
    """On the folder's shared serve (conftest.py), which runs at `--log-level trace`: so the
    whole log of every edge test is checked too."""
    served = edge_serve
    key = served.admin
    base = served.process.base_url
    httpx.get(f"{base}/v1/apps?password={PASSWORD_IN_URL}",
              headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    httpx.get(f"{base}/smtpserver/?identifier={PASSWORD_IN_URL}",
              headers={"Authorization": key})  # privacyIDEA's header form  # fmt: skip
    httpx.get(f"{base}/api/2.0/smtpsettings/smtp?x={PASSWORD_IN_URL}",
              headers={"Cookie": f"asc_auth_key={key}"})  # fmt: skip
    log = served.log()
    assert "Started scope=" in log and "TRACE" in log  # trace logging was on
    assert "/smtpserver/" in log and "/api/2.0/smtpsettings/smtp" in log
    secret_part = key.split("_", 2)[2]  # sck_<id>_<secret>; the secret itself may hold "_"
    for secret in (PASSWORD_IN_URL, key, secret_part):
        assert secret not in log


def test_database_failures_log_their_traceback_on_both_paths(edge_serve: Served) -> None:
    served = edge_serve
    path = served.url.removeprefix("sqlite:///")
    before = len(served.log())
    with served.client() as client:
        app = client.post("/v1/apps", json={"name": "broken shop"}).json()["id"]
        with sqlite3.connect(path) as db:  # the table goes away under the running service
            db.execute("ALTER TABLE apps RENAME TO apps_gone")
        try:
            short = client.post(f"/v1/apps/{app}/messages", json={"to": "a@example.org"})
            full = client.get(f"/v1/apps/{app}")
        finally:
            with sqlite3.connect(path) as db:
                db.execute("ALTER TABLE apps_gone RENAME TO apps")
    for response in (short, full):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "unavailable"
    # One line per failed request, counted by its own method and path: the log is shared with
    # the folder's other tests and read from another process's file, so it is read again until
    # both lines are there (a limit, not a speed claim) and nothing else is counted.
    lines = {f"database error on POST /v1/apps/{app}/messages:": 1,
             f"database error on GET /v1/apps/{app}:": 1}  # fmt: skip
    deadline = time.monotonic() + 30
    while not all((log := served.log()[before:]).count(line) for line in lines):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    assert {line: log.count(f"smtp_connector.server: {line}") for line in lines} == lines, log
    assert "Traceback (most recent call last)" in log
    assert "fast_send.py" in log  # the short path's own failure, with its frames
    assert "no such table: apps" in log  # the driver's reason, without the statement's values
    assert "[parameters:" not in log and served.admin not in log
