"""Secrets at rest: the key file for SQLite, the refusal for PostgreSQL without a key,
rotation with two keys, nothing in the raw database file; URL mapping and migrations."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from cryptography.fernet import Fernet
from service_support import SMTP_PASSWORD, file_bytes, loopback_policy
from sqlalchemy import select

from smtp_connector import ConnectorError
from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, Service
from smtp_connector.store.database import Database
from smtp_connector.store.migrate import current_revision, head_revision, prepare_schema
from smtp_connector.store.tables import DefinitionRow
from smtp_connector.store.urls import async_url

SMIME_KEY_PASSWORD = "smime-Key-Passphrase-42"


async def add_definition(service: Service) -> str:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    definition = DefinitionCreate.model_validate({
        "host": "smtp.example.com", "username": "u@example.com", "password": SMTP_PASSWORD,
        "fromEmail": "noreply@example.com",
        "smime": {"privateKeyPassword": SMIME_KEY_PASSWORD},
    })  # fmt: skip
    return (await service.definitions.create(CLI_ACTOR, app.id, definition)).id


async def test_sqlite_without_key_creates_private_key_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    service = await Service.open(url, policy=loopback_policy())
    await add_definition(service)
    await service.aclose()
    key_file = tmp_path / "svc.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "created the encryption key file" in caplog.text
    assert key_file.read_text().strip() not in caplog.text
    # The next start reads the same file and can decrypt.
    again = await Service.open(url, policy=loopback_policy())
    async with again.database.transaction() as session:
        row = (await session.scalars(select(DefinitionRow))).one()
    assert again.box.decrypt(row.password_enc or "") == SMTP_PASSWORD
    await again.aclose()


async def test_no_secret_in_raw_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "raw.db"
    service = await Service.open(f"sqlite:///{path}", Fernet.generate_key().decode())
    await add_definition(service)
    await service.aclose()
    raw = file_bytes(path)
    assert b"smtp.example.com" in raw  # the file is readable, the data is there ...
    assert SMTP_PASSWORD.encode() not in raw  # ... but not the secrets
    assert SMIME_KEY_PASSWORD.encode() not in raw


async def test_postgres_without_key_is_an_error() -> None:
    with pytest.raises(ConnectorError) as refused:
        await Service.open("postgresql://postgres@127.0.0.1:5432/test", policy=loopback_policy())
    assert refused.value.code.value == "invalid_config"
    assert "SMTP_CONNECTOR_SECRET_KEY" in refused.value.message


async def test_bad_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="Fernet keys"):
        await Service.open(f"sqlite:///{tmp_path / 'x.db'}", "not-a-key", policy=loopback_policy())


async def test_rotation_with_two_keys(database_url: str) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    first = await Service.open(database_url, old, migrate=True, policy=loopback_policy())
    definition_id = await add_definition(first)
    await first.aclose()

    # Without the old key the secret cannot be read: the error says what to do.
    wrong = await Service.open(database_url, new, migrate=True, policy=loopback_policy())
    with pytest.raises(ConnectorError, match="rotate"):
        await wrong.rotate_secrets()
    await wrong.aclose()

    both = await Service.open(database_url, f"{new},{old}", migrate=True, policy=loopback_policy())
    assert await both.rotate_secrets() == 2
    await both.aclose()

    only_new = await Service.open(database_url, new, migrate=True, policy=loopback_policy())
    async with only_new.database.transaction() as session:
        row = await session.get(DefinitionRow, definition_id)
    assert row is not None
    assert only_new.box.decrypt(row.password_enc or "") == SMTP_PASSWORD
    assert only_new.box.decrypt(row.smime_key_password_enc or "") == SMIME_KEY_PASSWORD
    entries = await only_new.audit.entries(CLI_ACTOR)
    assert entries[0].action == "secrets.rotate" and entries[0].details["secrets"] == 2
    await only_new.aclose()


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///./x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ],
)
def test_urls_map_to_async_drivers(given: str, driver: str) -> None:
    assert async_url(given).drivername == driver


@pytest.mark.parametrize("given", ["mysql://u@h/db", "nonsense"])
def test_unsupported_urls_are_config_errors(given: str) -> None:
    with pytest.raises(ConnectorError) as refused:
        async_url(given)
    assert refused.value.code.value == "invalid_config"


async def test_migrations_idempotent_and_required(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(ConnectorError, match="db upgrade"):
        await prepare_schema(database, migrate=False)
    await prepare_schema(database)
    await prepare_schema(database)
    assert await current_revision(database) == head_revision()
    await prepare_schema(database, migrate=False)  # current now: no complaint
    await database.dispose()
