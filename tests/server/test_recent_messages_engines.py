"""`GET /v1/apps/{id}/messages` on both queue engines: a real `serve` and a separate `worker`
process on SQLite and on PostgreSQL (tests/server/template_serve.py). The rows the worker
finished are listed newest first with the recipient masked, the last error in the API's terms,
and keyset pages that neither skip nor repeat a row (rows queued in the same instant tie on
`created` and are ordered by id)."""

from __future__ import annotations

import time

import httpx
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SMTP_PASSWORD
from smtp_servers import dead_port
from template_serve import Served


def queued(client: httpx.Client, app: str, to: str, **fields: object) -> str:
    body = {"to": to, "usageType": "SignIn", "payload": {"code": "482913"}} | fields
    answer = client.post(f"/v1/apps/{app}/messages", json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def settle(client: httpx.Client, ids: list[str]) -> None:
    deadline = time.monotonic() + 30
    for message in ids:
        while client.get(f"/v1/messages/{message}").json()["status"] in ("queued", "sending"):
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_the_workers_rows_listed_masked_and_paged(served: Served) -> None:
    with served.client() as client:
        app = served.new_app(client)
        server = served.add_server(client, app, enqueue=True)
        recipients = [f"reader{n}@example.org" for n in range(5)]
        settle(client, [queued(client, app, to) for to in recipients])
        dead = {"port": dead_port(), "password": SMTP_PASSWORD}
        assert client.patch(f"/v1/apps/{app}/servers/{server}", json=dead).is_success
        settle(client, [queued(client, app, "last@example.net", maxAttempts=1)])

        first = client.get(f"/v1/apps/{app}/messages", params={"limit": 4})
        assert first.status_code == 200, first.text
        link = first.headers["Link"].split(";")[0].strip("<>")
        rest = client.get(link)
        failed = client.get(f"/v1/apps/{app}/messages", params={"status": "abandoned"}).json()
    rows = first.json() + rest.json()
    assert "Link" not in rest.headers
    assert [row["to"] for row in rows] == ["l***@example.net"] + ["r***@example.org"] * 5
    assert len({row["id"] for row in rows}) == 6
    assert [row["status"] for row in rows] == ["abandoned"] + ["sent"] * 5
    for to in [*recipients, "last@example.net"]:
        assert to not in first.text + rest.text
    [only] = failed
    assert only["lastError"]["cause"] == "connection_refused"
    assert only["lastError"]["hint"] and "`port`" in only["lastError"]["hint"]
