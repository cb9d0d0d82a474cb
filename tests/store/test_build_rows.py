"""A rebuild's one Core read (store/build_rows.py) against the ORM reads it replaced, and what
a rebuild keeps from the connector it replaces (SQLite and PostgreSQL, real databases).

Hypothesis draws apps with definitions of every status, priority, default flag and creation
time (ties included), sender and secret settings; the Core read must give the version, the
sender, the rows in send order and the very connector config that the ORM reads give. Then,
through the service: a rebuild never takes another app's templates (the cache lends the last
connector built, of any app, for its compiled templates), and a template or definition
changed between two sends is what the next send uses.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_support import SECRET_KEY, loopback_policy

from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, Service
from smtp_connector.store.build_rows import ServerRow, read_for_build
from smtp_connector.store.configs import AppSender, connector_config
from smtp_connector.store.definitions import ordered_definitions
from smtp_connector.store.domain import DefinitionPatch
from smtp_connector.store.tables import AppRow, DefinitionRow
from smtp_connector.store.template_models import TemplateInput

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MAYBE_TEXT = st.sampled_from([None, "ops@example.net", "Codes"])
DEFINITION = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["active", "active", "disabled", "failed"]),
        "priority": st.integers(min_value=0, max_value=2),
        "is_default": st.booleans(),
        "created": st.integers(min_value=0, max_value=2).map(lambda s: EPOCH + timedelta(s)),
        "security": st.sampled_from(["none", "starttls", "tls"]),
        "auth": st.booleans(),
        "username": MAYBE_TEXT,
        "from_email": st.sampled_from([None, "a@example.net", "b@example.org"]),
        "from_name": MAYBE_TEXT,
        "timeout": st.integers(min_value=1, max_value=60),
        "enqueue": st.booleans(),
        "verify_certificate": st.booleans(),
        "allow_special_use_domains": st.booleans(),
        "name": st.one_of(st.none(), st.text("abc", min_size=1, max_size=3)),
    },
    optional={"password": st.sampled_from(["pw-one", "pw-two"])},
)
APP = st.fixed_dictionaries(
    {
        "from_email": st.sampled_from([None, "app@example.com"]),
        "from_name": st.sampled_from([None, "App"]),
        "default_locale": st.sampled_from([None, "de", "pt-BR"]),
        "definitions_version": st.integers(min_value=1, max_value=99),
    }
)


async def _store_app(
    service: Service, app: dict[str, Any], definitions: list[dict[str, Any]]
) -> str:
    app_id = uuid.uuid4().hex
    async with service.database.transaction() as session:
        session.add(AppRow(id=app_id, name=app_id, **app))
        await session.flush()
        for n, data in enumerate(definitions):
            fields = dict(data)
            password = fields.pop("password", None)
            fields["password_enc"] = service.box.encrypt(password) if password else None
            fields["name"] = f"{fields['name']}-{n}" if fields["name"] else None
            session.add(DefinitionRow(app_id=app_id, host=f"h{n}.example.org", port=2525 + n,
                                      **fields))  # fmt: skip
    return app_id


async def _orm_read(service: Service, app_id: str) -> tuple[int, AppSender, list[DefinitionRow]]:
    """What `_build` read before: the app and its active definitions through the ORM."""
    async with service.database.transaction() as session:
        app = await session.get(AppRow, app_id)
        assert app is not None
        rows = await ordered_definitions(session, app_id, active_only=True)
        sender = AppSender.of(app)
        assert sender is not None
        return app.definitions_version, sender, rows


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(app=APP, definitions=st.lists(DEFINITION, max_size=6))
async def test_the_core_read_gives_what_the_orm_reads_gave(
    service: Service, app: dict[str, Any], definitions: list[dict[str, Any]]
) -> None:
    app_id = await _store_app(service, app, definitions)
    read = await read_for_build(service.database, app_id)
    assert read is not None
    version, sender, orm_rows = await _orm_read(service, app_id)
    assert (read.version, read.sender) == (version, sender)
    servers = read.servers()
    fields = list(ServerRow.__dataclass_fields__)
    assert [[getattr(row, f) for f in fields] for row in servers] == [
        [getattr(row, f) for f in fields] for row in orm_rows
    ]
    for row in servers:  # the tokens stay out of reprs (and so out of any log line)
        assert row.password_enc is None or row.password_enc not in repr(row)
    if orm_rows:  # the config a connector is built from, secrets decrypted alike
        config = {"validation_only": True, "app": sender}
        assert connector_config(servers, service.box, **config) == connector_config(
            orm_rows, service.box, **config
        )


async def test_the_core_read_of_an_unknown_app_is_none(service: Service) -> None:
    assert await read_for_build(service.database, "no-such-app") is None


OWN = TemplateInput.model_validate({"subject": "Own {{code}}", "content": "<p>{{code}}</p>"})
NEWER = TemplateInput.model_validate({"subject": "Newer {{code}}", "content": "<p>{{code}}</p>"})


async def _app_with_definition(service: Service, name: str, port: int) -> tuple[str, str]:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name=name, fromEmail="o@example.com"))
    data = DefinitionCreate(host="127.0.0.1", port=port, security="none", auth=False)
    definition = await service.definitions.create(CLI_ACTOR, app.id, data)
    return app.id, definition.id


async def _subject(service: Service, app_id: str) -> str:
    return (await service.messages.render(CLI_ACTOR, app_id, "SignIn", {"code": "42"})).subject


async def test_a_rebuild_never_takes_another_apps_templates(service: Service) -> None:
    mine, _ = await _app_with_definition(service, "mine", 2525)
    theirs, _ = await _app_with_definition(service, "theirs", 2526)
    await service.templates.put(CLI_ACTOR, mine, "SignIn", "en", OWN)
    assert await _subject(service, mine) == "Own 42"
    # theirs's first build is lent mine's connector (the last built) for compiled templates
    assert await _subject(service, theirs) != "Own 42"
    assert await _subject(service, mine) == "Own 42"


async def test_a_change_between_two_sends_is_what_the_next_send_uses(
    service: Service, database_url: str
) -> None:
    app_id, definition_id = await _app_with_definition(service, "mine", 2525)
    await service.templates.put(CLI_ACTOR, app_id, "SignIn", "en", OWN)
    assert await _subject(service, app_id) == "Own 42"
    # a definition and a template changed: the rebuilt connector renders the newer template
    await service.templates.put(CLI_ACTOR, app_id, "SignIn", "en", NEWER)
    patch = DefinitionPatch(port=2600, fromEmail="new@example.com")
    await service.definitions.update(CLI_ACTOR, app_id, definition_id, patch)
    rendered = await service.messages.render(CLI_ACTOR, app_id, "SignIn", {"code": "42"})
    assert (rendered.subject, rendered.from_address.envelope) == ("Newer 42", "new@example.com")
    # another process (no connector to take a snapshot from) renders the stored template too
    other = await Service.open(database_url, SECRET_KEY, policy=loopback_policy())
    try:
        assert await _subject(other, app_id) == "Newer 42"
    finally:
        await other.aclose()
