"""The domain layer's rules for definitions, on SQLite and PostgreSQL: CRUD round trips,
write-only secrets, the host-change refusal, one default per app, app-bound actors, audit."""

from __future__ import annotations

import json

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SMTP_PASSWORD
from sqlalchemy import select

from smtp_connector.store import (
    CENSORED,
    CLI_ACTOR,
    Actor,
    AppCreate,
    AppPatch,
    DefinitionCreate,
    DefinitionPatch,
    Service,
    ServiceError,
)
from smtp_connector.store.tables import AuditRow, DefinitionRow


def new_definition(**fields: object) -> DefinitionCreate:
    base = {"host": "smtp.example.com", "port": 587, "username": "mailer@example.com",
            "password": SMTP_PASSWORD, "fromEmail": "noreply@example.com"}  # fmt: skip
    return DefinitionCreate.model_validate(base | fields)


async def stored_row(service: Service, definition_id: str) -> DefinitionRow:
    async with service.database.transaction() as session:
        row = await session.get(DefinitionRow, definition_id)
        assert row is not None
        return row


async def test_app_and_definition_round_trip(service: Service) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop", testEmail="ops@example.org"))
    assert (await service.apps.get(CLI_ACTOR, app.id)).test_email == "ops@example.org"
    created = await service.definitions.create(
        CLI_ACTOR, app.id, new_definition(priority=3, security="tls", port=465, fromName="Shop")
    )
    assert created.password == CENSORED
    assert (created.priority, created.security, created.status) == (3, "tls", "active")
    fetched = await service.definitions.get(CLI_ACTOR, app.id, created.id)
    assert fetched.model_dump() == created.model_dump()

    updated = await service.definitions.update(
        CLI_ACTOR, app.id, created.id, DefinitionPatch(description="primary", timeout=30)
    )
    assert (updated.description, updated.timeout, updated.host) == (
        "primary",
        30,
        "smtp.example.com",
    )
    assert [d.id for d in await service.definitions.list(CLI_ACTOR, app.id)] == [created.id]

    renamed = await service.apps.update(CLI_ACTOR, app.id, AppPatch(name="shop-eu"))
    assert renamed.name == "shop-eu"
    await service.definitions.delete(CLI_ACTOR, app.id, created.id)
    assert await service.definitions.list(CLI_ACTOR, app.id) == []
    await service.apps.delete(CLI_ACTOR, app.id)
    with pytest.raises(ServiceError) as missing:
        await service.apps.get(CLI_ACTOR, app.id)
    assert missing.value.reason == "not_found"


async def test_secret_stored_encrypted_and_decryptable(service: Service) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    created = await service.definitions.create(CLI_ACTOR, app.id, new_definition())
    row = await stored_row(service, created.id)
    assert row.password_enc and SMTP_PASSWORD not in row.password_enc
    assert service.box.decrypt(row.password_enc) == SMTP_PASSWORD


async def test_censored_keeps_empty_clears(service: Service) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    created = await service.definitions.create(CLI_ACTOR, app.id, new_definition())
    token = (await stored_row(service, created.id)).password_enc

    # Saving the censored value back (as a form would) keeps the secret untouched.
    await service.definitions.update(
        CLI_ACTOR, app.id, created.id, DefinitionPatch(password=CENSORED, priority=1)
    )
    assert (await stored_row(service, created.id)).password_enc == token
    # Leaving the field out keeps it too.
    await service.definitions.update(CLI_ACTOR, app.id, created.id, DefinitionPatch(priority=2))
    assert (await stored_row(service, created.id)).password_enc == token
    # "" clears it.
    cleared = await service.definitions.update(
        CLI_ACTOR, app.id, created.id, DefinitionPatch(password="")
    )
    assert cleared.password == ""
    assert (await stored_row(service, created.id)).password_enc is None


@pytest.mark.parametrize("change", [{"host": "evil.example.net"}, {"port": 2525},
                                    {"username": "other@example.com"}])  # fmt: skip
async def test_identity_change_without_password_refused(service: Service, change: dict) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    created = await service.definitions.create(CLI_ACTOR, app.id, new_definition())
    with pytest.raises(ServiceError) as refused:
        await service.definitions.update(
            CLI_ACTOR, app.id, created.id, DefinitionPatch.model_validate(change)
        )
    assert refused.value.reason == "invalid"
    assert refused.value.code.value == "invalid_config"
    assert SMTP_PASSWORD not in str(refused.value)
    # The same change with the censored placeholder is refused as well ...
    with pytest.raises(ServiceError):
        await service.definitions.update(
            CLI_ACTOR, app.id, created.id,
            DefinitionPatch.model_validate(change | {"password": CENSORED}),
        )  # fmt: skip
    # ... and accepted with a new password.
    moved = await service.definitions.update(
        CLI_ACTOR, app.id, created.id, DefinitionPatch.model_validate(change | {"password": "n3w"})
    )
    assert moved.password == CENSORED
    assert service.box.decrypt((await stored_row(service, created.id)).password_enc or "") == "n3w"


async def test_one_default_per_app(service: Service) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    first = await service.definitions.create(CLI_ACTOR, app.id, new_definition(isDefault=True))
    second = await service.definitions.create(
        CLI_ACTOR, app.id, new_definition(host="smtp2.example.com", isDefault=True)
    )
    defaults = {d.id: d.is_default for d in await service.definitions.list(CLI_ACTOR, app.id)}
    assert defaults == {first.id: False, second.id: True}


async def test_invalid_definitions_refused_with_field_names(service: Service) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    with pytest.raises(ValueError, match="fromEmail"):
        new_definition(fromEmail="not-an-address")
    with pytest.raises(ValueError, match="host"):
        new_definition(host="smtp.example.com/evil")
    await service.definitions.create(CLI_ACTOR, app.id, new_definition(name="main"))
    with pytest.raises(ServiceError) as duplicate:
        await service.definitions.create(CLI_ACTOR, app.id, new_definition(name="main"))
    assert duplicate.value.reason == "conflict"


async def test_app_bound_actor_sees_only_its_app(service: Service) -> None:
    mine = await service.apps.create(CLI_ACTOR, AppCreate(name="mine"))
    other = await service.apps.create(CLI_ACTOR, AppCreate(name="other"))
    bound = Actor("key:test", app_id=mine.id)
    assert [a.id for a in await service.apps.list(bound)] == [mine.id]
    await service.definitions.create(bound, mine.id, new_definition())
    for call in (
        service.apps.get(bound, other.id),
        service.definitions.list(bound, other.id),
        service.definitions.create(bound, other.id, new_definition()),
        service.apps.create(bound, AppCreate(name="third")),
    ):
        with pytest.raises(ServiceError) as refused:
            await call
        assert refused.value.reason == "forbidden"


async def test_audit_has_entries_without_secrets(service: Service) -> None:
    actor = Actor("key:abc (admin)")
    app = await service.apps.create(actor, AppCreate(name="shop"))
    created = await service.definitions.create(actor, app.id, new_definition())
    await service.definitions.update(
        actor, app.id, created.id, DefinitionPatch(password="S3c0nd-secret")
    )
    await service.definitions.delete(actor, app.id, created.id)
    entries = await service.audit.entries(CLI_ACTOR, app_id=app.id)
    assert [e.action for e in entries] == [
        "definition.delete",
        "definition.update",
        "definition.create",
        "app.create",
    ]
    assert {e.actor for e in entries} == {"key:abc (admin)"}
    assert "password" in entries[1].details["fields"]  # the field name, not its value
    async with service.database.transaction() as session:
        dumped = json.dumps(
            [[r.actor, r.action, r.details] for r in await session.scalars(select(AuditRow))]
        )
    assert SMTP_PASSWORD not in dumped and "S3c0nd-secret" not in dumped


async def test_concurrent_first_use_creates_one_app(service: Service) -> None:
    import asyncio

    apps = await asyncio.gather(
        *(service.apps.ensure_dialect(CLI_ACTOR, "privacyidea") for _ in range(8))
    )
    assert len({app.id for app in apps}) == 1
    assert [a.name for a in await service.apps.list(CLI_ACTOR)] == ["privacyidea"]


async def test_empty_username_is_no_change(service: Service) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    created = await service.definitions.create(
        CLI_ACTOR, app.id, new_definition(username=None, auth=False)
    )
    same = await service.definitions.update(
        CLI_ACTOR, app.id, created.id, DefinitionPatch(username="", port=587, description="x")
    )
    assert same.description == "x" and same.password == CENSORED
