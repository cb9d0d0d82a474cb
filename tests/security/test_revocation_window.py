"""Issue 26 §6: a key revoked, or an app deleted, through one process is refused by another
`serve` sharing the database within the documented window (KeyService's `CACHE_TTL`, 2 s).

Two real `serve` processes on one database (SQLite, then PostgreSQL): B has the key checked
and remembered; the key is revoked with the CLI (a third process) or its app deleted through
A; once the window has passed, B's next request is refused, on the routes and on the send
short path. B's background refresh normally drops the key well within the window; the
request path's own re-read of a check older than the window (the safety net) makes "after the
window" hold whatever the machine's load, so the wait below is the contract, not a guess.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import (
    ServeProcess,
    cli,
    key_headers,
    postgres_database,
    serve_env,
    start_serve,
)

from smtp_connector.store.keys import CACHE_TTL

MARGIN = 0.3  # seconds past the window: B's clock starts its window after ours


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_serves(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServeProcess, ServeProcess, str]]:
    folder = tmp_path_factory.mktemp(f"revocation-{request.param}")
    with _database(request.param, folder) as url:
        cli("db", "upgrade", "--database-url", url, env=serve_env())  # queue tables too
        first = start_serve(url, folder / "a.log", serve_env())
        try:
            second = start_serve(url, folder / "b.log", serve_env())
            try:
                yield first, second, url
            finally:
                second.stop()
        finally:
            first.stop()


def _database(engine: str, folder: Path):  # type: ignore[no-untyped-def]
    if engine == "postgres":
        return postgres_database()
    from contextlib import nullcontext

    return nullcontext(f"sqlite:///{folder / 'service.db'}")


def refused(response: httpx.Response) -> bool:
    return (
        response.status_code == 403
        and response.json()["error"]["message"] == "Unknown or revoked API key."
    )


def test_a_key_revoked_with_the_cli_is_refused_by_another_serve(
    two_serves: tuple[ServeProcess, ServeProcess, str],
) -> None:
    _, second, url = two_serves
    operator = key_headers(url)
    victim = key_headers(url)
    key_id = victim["Authorization"].removeprefix("Bearer ").split("_")[1]
    with httpx.Client(base_url=second.base_url, timeout=10) as client:
        app = client.post("/v1/apps", json={"name": "cli-revoke"}, headers=operator).json()["id"]
        assert client.get("/v1/apps", headers=victim).status_code == 200  # B remembers it
        cli("keys", "revoke", key_id, "--database-url", url, env=serve_env())
        time.sleep(CACHE_TTL + MARGIN)
        assert refused(client.get("/v1/apps", headers=victim))
        send = {"to": "a@example.org", "usageType": "SignIn", "payload": {"code": "123456"}}
        assert refused(client.post(f"/v1/apps/{app}/messages", json=send, headers=victim))
        assert client.get("/v1/apps", headers=operator).status_code == 200  # others unaffected


def test_an_app_deleted_through_one_serve_stops_its_keys_on_the_other(
    two_serves: tuple[ServeProcess, ServeProcess, str],
) -> None:
    first, second, url = two_serves
    operator = key_headers(url)
    with (
        httpx.Client(base_url=first.base_url, timeout=10) as a,
        httpx.Client(base_url=second.base_url, timeout=10) as b,
    ):
        created = a.post("/v1/apps", json={"name": "gone", "id": "gone"}, headers=operator)
        assert created.status_code == 201, created.text
        tenant = key_headers(url, app="gone")
        assert b.get("/v1/apps/gone", headers=tenant).status_code == 200  # B remembers it
        assert a.delete("/v1/apps/gone", headers=operator).status_code == 204
        assert refused(a.get("/v1/apps/gone", headers=tenant))  # A at once
        # Re-created under the same id through A: B must not let the old key reach it.
        assert a.post("/v1/apps", json={"name": "gone", "id": "gone"}, headers=operator)
        time.sleep(CACHE_TTL + MARGIN)
        assert refused(b.get("/v1/apps/gone", headers=tenant))
        assert b.get("/v1/apps/gone", headers=operator).status_code == 200


def test_a_newcomer_pasting_the_whole_key_into_revoke(
    two_serves: tuple[ServeProcess, ServeProcess, str],
) -> None:
    """The common mistake: `keys revoke` given the key itself, not the id `keys list` shows.
    It revokes that key, names it by id only, and a running serve refuses it after the
    window."""
    _, second, url = two_serves
    headers = key_headers(url)
    raw = headers["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=second.base_url, timeout=10) as client:
        assert client.get("/v1/apps", headers=headers).status_code == 200
        done = cli("keys", "revoke", raw, "--database-url", url, env=serve_env())
        assert done.stdout.strip() == f"Revoked API key {raw.split('_')[1]}."
        assert raw.split("_", 2)[2] not in done.stdout + done.stderr  # the secret part
        time.sleep(CACHE_TTL + MARGIN)
        assert refused(client.get("/v1/apps", headers=headers))
