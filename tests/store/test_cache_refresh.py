"""Issue 26 §6: the key cache and the definitions-version cache are kept current off the
request path (store/freshness.py), on SQLite and on PostgreSQL.

Two `Service` objects on one database stand for two processes: one changes the store, the
other's refresh must see it. What a refresh confirmed is answered from memory (shown by taking
the row away behind the cache's back); what it found revoked, deleted or changed is not.
The real two-`serve` version is tests/security/test_revocation_window.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SECRET_KEY, loopback_policy
from smtp_servers import MakeServer
from sqlalchemy import delete

from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, MessageRequest, Service
from smtp_connector.store.freshness import Freshness
from smtp_connector.store.keys import hash_key
from smtp_connector.store.tables import ApiKeyRow

SCOPES = ("smtpserver_read", "smtpserver_send", "smtpserver_write")


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[Service]:
    """A second service on the same database: another `serve`, or the CLI."""
    opened = await Service.open(database_url, SECRET_KEY, migrate=False, policy=loopback_policy())
    yield opened
    await opened.aclose()


def age(service: Service, raw: str, seconds: float) -> None:
    """Make the remembered check of `raw` look `seconds` old."""
    digest = hash_key(raw)
    actor, _ = service.keys._cache[digest]
    service.keys._cache[digest] = (actor, time.monotonic() - seconds)


async def test_refresh_forgets_a_key_revoked_elsewhere(service: Service, other: Service) -> None:
    info, raw = await other.keys.create(CLI_ACTOR, SCOPES)
    assert await service.keys.authenticate(raw) is not None  # remembered here
    await other.keys.revoke(CLI_ACTOR, info.id)
    assert await service.keys.authenticate(raw) is not None  # still within the window
    await service.keys.refresh()
    assert await service.keys.authenticate(raw) is None


async def test_refresh_forgets_the_keys_of_an_app_deleted_elsewhere(
    service: Service, other: Service
) -> None:
    await other.apps.create(CLI_ACTOR, AppCreate(name="shop", id="shop"))
    _, tenant = await other.keys.create(CLI_ACTOR, SCOPES, app="shop")
    _, operator = await other.keys.create(CLI_ACTOR, SCOPES)
    assert await service.keys.authenticate(tenant) is not None
    assert await service.keys.authenticate(operator) is not None
    await other.apps.delete(CLI_ACTOR, "shop")
    await service.keys.refresh()
    assert await service.keys.authenticate(tenant) is None
    assert await service.keys.authenticate(operator) is not None


async def test_a_key_confirmed_by_refresh_is_answered_from_memory(
    service: Service, other: Service
) -> None:
    _, raw = await other.keys.create(CLI_ACTOR, SCOPES)
    assert await service.keys.authenticate(raw) is not None
    age(service, raw, service.keys.cache_ttl + 1)  # stale: a request would query
    await service.keys.refresh()  # confirmed again, off the request path
    async with other.database.transaction() as session:  # behind the cache's back
        await session.execute(delete(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(raw)))
    assert await service.keys.authenticate(raw) is not None  # no query was made


async def test_a_stale_key_is_checked_on_the_request_path(service: Service, other: Service) -> None:
    """The safety net: a refresh that fell behind never stretches the window."""
    info, raw = await other.keys.create(CLI_ACTOR, SCOPES)
    assert await service.keys.authenticate(raw) is not None
    await other.keys.revoke(CLI_ACTOR, info.id)
    age(service, raw, service.keys.cache_ttl + 1)
    assert await service.keys.authenticate(raw) is None


async def test_a_revocation_during_a_refresh_wins(service: Service, other: Service) -> None:
    """A refresh that read the key as valid must not bring back what a revocation through
    this process forgot while the refresh's query ran."""
    info, raw = await service.keys.create(CLI_ACTOR, SCOPES)
    assert await service.keys.authenticate(raw) is not None
    real = service.database

    class Racing:  # the refresh's query, with a revocation committed while it runs
        class engine:
            @staticmethod
            def connect():  # type: ignore[no-untyped-def]
                service.keys.forget()  # what revoke does once committed
                return real.engine.connect()

    service.keys._db = Racing  # type: ignore[assignment]
    try:
        await service.keys.refresh()
    finally:
        service.keys._db = real
    assert hash_key(raw) not in service.keys._cache
    await other.keys.revoke(CLI_ACTOR, info.id)
    assert await service.keys.authenticate(raw) is None


async def test_refresh_follows_definitions_changed_elsewhere(
    service: Service, other: Service, make_server: MakeServer
) -> None:
    # What a refresh finds, not what expires: a send on a loaded machine can outlast the 1 s
    # window, and an expired version reads as None whatever the refresh did.
    service.connectors.version_ttl = 300.0
    first, second = make_server(), make_server()
    await other.apps.create(CLI_ACTOR, AppCreate(name="shop", id="shop"))
    body = {"host": "127.0.0.1", "port": first.port, "security": "none",
            "fromEmail": "noreply@example.com"}  # fmt: skip
    made = await other.definitions.create(CLI_ACTOR, "shop", DefinitionCreate.model_validate(body))
    request = MessageRequest.model_validate({"to": "a@example.org", "usageType": "SignIn",
                                             "payload": {"code": "111111"}})  # fmt: skip
    await service.messages.send(CLI_ACTOR, "shop", request)
    assert len(first.messages) == 1
    version = service.connectors.known_version("shop")
    assert version is not None

    await other.definitions.delete(CLI_ACTOR, "shop", made.id)
    moved = body | {"port": second.port}
    await other.definitions.create(CLI_ACTOR, "shop", DefinitionCreate.model_validate(moved))
    await service.messages.refresh_versions()
    refreshed = service.connectors.known_version("shop")
    assert refreshed is not None and refreshed.definitions > version.definitions
    await service.messages.send(CLI_ACTOR, "shop", request)
    assert len(first.messages) == 1 and len(second.messages) == 1  # the new definition

    await other.apps.delete(CLI_ACTOR, "shop")
    await service.messages.refresh_versions()
    assert service.connectors.known_version("shop") is None  # the next send reads: 404


async def test_freshness_keeps_running_when_a_refresh_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing refresh (the database down) is logged once and retried; the others run."""
    calls: list[str] = []

    async def broken() -> None:
        calls.append("broken")
        raise OSError("connection refused")

    async def working() -> None:
        calls.append("working")

    freshness = Freshness([broken, working], window=0.03)
    freshness.start()
    try:
        while calls.count("working") < 3:
            await asyncio.sleep(0.01)
    finally:
        await freshness.aclose()
    assert calls.count("broken") >= 3
    failures = [r for r in caplog.records if "refreshing cached" in r.getMessage()]
    assert len(failures) == 1


async def test_a_failing_refresh_logs_no_statement_values(
    service: Service, make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Attacker's view of the log: when the background refresh fails (here its tables gone
    under it), its warning carries the driver's reason, never the statement's values (the
    remembered apps' ids and API-key digests). Found by a race in CI: the error's text had
    `[parameters: (...)]` until the store's engine hid them, as the queue's engines do."""
    sink = make_server()
    app_id = "tenant-7f3a9c"
    await service.apps.create(CLI_ACTOR, AppCreate(name="shop", id=app_id))
    body = {"host": "127.0.0.1", "port": sink.port, "security": "none",
            "fromEmail": "noreply@example.com"}  # fmt: skip
    await service.definitions.create(CLI_ACTOR, app_id, DefinitionCreate.model_validate(body))
    _, raw = await service.keys.create(CLI_ACTOR, SCOPES)
    assert await service.keys.authenticate(raw) is not None  # its digest remembered
    request = MessageRequest.model_validate({"to": "a@example.org", "usageType": "SignIn",
                                             "payload": {"code": "111111"}})  # fmt: skip
    await service.messages.send(CLI_ACTOR, app_id, request)  # its versions remembered
    assert len(sink.messages) == 1
    renames = [("apps", "apps_gone"), ("api_keys", "api_keys_gone")]
    async with service.database.engine.begin() as connection:
        for old, new in renames:
            await connection.exec_driver_sql(f"ALTER TABLE {old} RENAME TO {new}")
    try:
        errors = []
        for refresh in (service.keys.refresh, service.messages.refresh_versions):
            with pytest.raises(Exception) as info:
                await refresh()
            errors.append(str(info.value))
        freshness = Freshness([service.keys.refresh, service.messages.refresh_versions], 0.03)
        freshness.start()
        try:
            while sum("refreshing cached" in r.getMessage() for r in caplog.records) < 2:
                await asyncio.sleep(0.01)
        finally:
            await freshness.aclose()
    finally:
        async with service.database.engine.begin() as connection:
            for old, new in renames:
                await connection.exec_driver_sql(f"ALTER TABLE {new} RENAME TO {old}")
    logged = [r.getMessage() for r in caplog.records if "refreshing cached" in r.getMessage()]
    for text in errors + logged:
        assert "apps" in text or "api_keys" in text  # the driver's reason is there
        assert "[parameters:" not in text
        assert app_id not in text and hash_key(raw) not in text
