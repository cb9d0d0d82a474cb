"""A definition update through Core statements (store/definition_rows.py) against the ORM
unit of work it replaced (SQLite and PostgreSQL, real databases).

Hypothesis draws apps with a few definitions (a default one, one with a stored password) and
a sequence of patches (renames onto a taken name, password kept, cleared or replaced, a
transport change that would send the stored password elsewhere, invalid senders, default
flags, statuses …). Two apps made alike take the same patches, one through
`DefinitionService.update`, the other through the ORM steps it used to run; after every step
the answers (the view, or the error's type, code and message) are equal, and at the end so are
the stored definitions, the app's `definitions_version` and the audit rows.
"""

from __future__ import annotations

import uuid
from typing import Any

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from smtp_connector.errors import ConnectorError
from smtp_connector.store import CLI_ACTOR, Service
from smtp_connector.store import audit as audit_log
from smtp_connector.store.apps import load_app
from smtp_connector.store.configs import validate_definition
from smtp_connector.store.definitions import (
    _new_password,
    apply_patch,
    bump_version,
    clear_other_defaults,
    definition_by_name,
    definition_view,
    row_snapshot,
)
from smtp_connector.store.domain import CENSORED, Definition, DefinitionPatch
from smtp_connector.store.errors import ServiceError
from smtp_connector.store.protection import refuse_secret_travel, transport_of
from smtp_connector.store.tables import AppRow, AuditRow, DefinitionRow, utcnow

# The definitions of each drawn app: names, a default, a stored password under auth.
STORED = [
    {"name": "one", "is_default": True, "priority": 0},
    {"name": "two", "auth": True, "username": "user@example.net", "password": "pw-stored"},
    {"name": None, "priority": 2, "from_email": None},
]
PATCH = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["one", "two", "three"]),
        "host": st.sampled_from(["mail.example.org", "h1.example.org"]),
        "port": st.sampled_from([25, 2526, 587]),
        "username": st.sampled_from([None, "user@example.net", "other"]),
        "password": st.sampled_from([None, "", CENSORED, "pw-new"]),
        "security": st.sampled_from(["none", "starttls", "tls"]),
        "auth": st.booleans(),
        "priority": st.integers(min_value=0, max_value=3),
        "status": st.sampled_from(["active", "disabled"]),
        "is_default": st.booleans(),
        "from_email": st.sampled_from([None, "a@example.net", "a@corp.local"]),
        "allow_special_use_domains": st.booleans(),
        "from_name": st.sampled_from([None, "Codes"]),
        "timeout": st.integers(min_value=1, max_value=60),
        "enqueue": st.booleans(),
        "description": st.sampled_from([None, "", "round 1"]),
        "verify_certificate": st.booleans(),
    },
)
STEPS = st.lists(st.tuples(st.integers(min_value=0, max_value=len(STORED) - 1), PATCH),
                 min_size=1, max_size=6)  # fmt: skip
VOLATILE = {"id", "app_id", "created", "modified"}  # differ between the two apps by nature


async def _stored_app(service: Service) -> tuple[str, list[str]]:
    app_id = uuid.uuid4().hex
    async with service.database.transaction() as session:
        session.add(AppRow(id=app_id, name=app_id, from_email="app@example.com"))
        await session.flush()
        rows = []
        for n, fields in enumerate(STORED):
            data = {"from_email": "d@example.org", **fields}
            password = data.pop("password", None)
            data["password_enc"] = service.box.encrypt(password) if password else None
            row = DefinitionRow(app_id=app_id, host=f"h{n}.example.org", port=2525, **data)
            session.add(row)
            rows.append(row)
        await session.flush()
        return app_id, [row.id for row in rows]


async def _orm_update(
    service: Service, app_id: str, definition_id: str, patch: DefinitionPatch
) -> Definition:
    """What `DefinitionService.update` ran before: the ORM steps, one session."""
    box, smime_dir = service.box, service.policy.smime_dir
    async with service.database.transaction() as session:
        await load_app(session, CLI_ACTOR, app_id)
        row = await session.get(DefinitionRow, definition_id)
        assert row is not None and row.app_id == app_id
        renamed = patch.name and patch.name != row.name
        if renamed and await definition_by_name(session, app_id, str(patch.name)):
            raise ServiceError("conflict", f"A definition named {patch.name!r} exists.")
        before = transport_of(row)
        fields = apply_patch(box, row, patch)
        refuse_secret_travel(before, row, new_password=_new_password(patch))
        validate_definition(row, box, smime_dir)
        row.modified = utcnow()
        await clear_other_defaults(session, row)
        await bump_version(session, await load_app(session, CLI_ACTOR, app_id))
        audit_log.record(
            session, CLI_ACTOR, "definition.update", app_id=app_id, target=row.id,
            fields=fields, server=f"{row.host}:{row.port}",
        )  # fmt: skip
        return definition_view(row)


async def _answer(call: Any) -> tuple[Any, ...]:
    """The view without what differs between two apps, or the error's kind and words."""
    try:
        view: Definition = await call
    except ConnectorError as error:
        return type(error).__name__, error.code, str(error)
    return ("ok", view.model_dump(exclude=VOLATILE))


async def _stored(service: Service, app_id: str, ids: list[str]) -> tuple[Any, ...]:
    async with service.database.transaction() as session:
        app = await session.get(AppRow, app_id)
        assert app is not None
        rows = [await session.get(DefinitionRow, definition_id) for definition_id in ids]
        columns = [
            {k: v for k, v in row_snapshot(row).items() if k not in VOLATILE and "_enc" not in k}
            for row in rows
            if row is not None
        ]
        secrets = [[service.box.decrypt(row.password_enc or "") if row.password_enc else None]
                   for row in rows if row is not None]  # fmt: skip
        query = select(AuditRow).where(AuditRow.app_id == app_id).order_by(AuditRow.id)
        audit = [(a.actor, a.action, ids.index(a.target or ""), a.success, a.details)
                 for a in (await session.scalars(query)).all()]  # fmt: skip
        return app.definitions_version, columns, secrets, audit


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(steps=STEPS)
async def test_a_core_update_does_what_the_orm_update_did(
    service: Service, steps: list[tuple[int, dict[str, Any]]]
) -> None:
    core_app, core_ids = await _stored_app(service)
    orm_app, orm_ids = await _stored_app(service)
    for index, fields in steps:
        patch = DefinitionPatch(**fields)
        core = await _answer(
            service.definitions.update(CLI_ACTOR, core_app, core_ids[index], patch)
        )
        orm = await _answer(_orm_update(service, orm_app, orm_ids[index], patch))
        assert core == orm
    assert await _stored(service, core_app, core_ids) == await _stored(service, orm_app, orm_ids)


async def test_an_update_of_a_missing_definition_or_app_says_which(service: Service) -> None:
    app_id, ids = await _stored_app(service)
    other, other_ids = await _stored_app(service)
    patch = DefinitionPatch(description="x")
    for app, definition, missing in [
        (app_id, "no-such-definition", "Server definition"),
        (app_id, other_ids[0], "Server definition"),  # another app's: not found here
        ("no-such-app", ids[0], "App"),
    ]:
        try:
            await service.definitions.update(CLI_ACTOR, app, definition, patch)
        except ConnectorError as error:
            assert missing in str(error) and getattr(error, "reason", None) == "not_found"
        else:
            raise AssertionError("updated a definition that is not there")
    assert await _stored(service, other, other_ids) == await _stored(service, other, other_ids)
