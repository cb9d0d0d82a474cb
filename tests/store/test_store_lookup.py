"""What the domain layer offers APIs that address definitions by id alone or round-trip extra
fields (the seed dialects), on SQLite and PostgreSQL: `locate`, not-found errors that say what
was missing, and the stored `debug` / `integration_id` fields."""

from __future__ import annotations

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SMTP_PASSWORD

from smtp_connector.store import (
    APP,
    CLI_ACTOR,
    DEFINITION,
    Actor,
    AppCreate,
    DefinitionCreate,
    DefinitionPatch,
    Service,
    ServiceError,
)


def new_definition(**fields: object) -> DefinitionCreate:
    base = {"host": "smtp.example.com", "username": "mailer@example.com",
            "password": SMTP_PASSWORD, "fromEmail": "noreply@example.com"}  # fmt: skip
    return DefinitionCreate.model_validate(base | fields)


async def test_locate_finds_a_definition_in_any_visible_app(service: Service) -> None:
    mine = await service.apps.create(CLI_ACTOR, AppCreate(name="mine"))
    other = await service.apps.create(CLI_ACTOR, AppCreate(name="other"))
    ours = await service.definitions.create(CLI_ACTOR, mine.id, new_definition())
    theirs = await service.definitions.create(CLI_ACTOR, other.id, new_definition())

    found = await service.definitions.locate(CLI_ACTOR, theirs.id)
    assert (found.id, found.app_id, found.password) == (theirs.id, other.id, "__CENSORED__")

    bound = Actor("key:bound", app_id=mine.id)
    assert (await service.definitions.locate(bound, ours.id)).app_id == mine.id
    # Another app's definition looks exactly like an unknown id to a bound key.
    for ident in (theirs.id, "no-such-id"):
        with pytest.raises(ServiceError) as missing:
            await service.definitions.locate(bound, ident)
        assert (missing.value.reason, missing.value.subject) == ("not_found", DEFINITION)


async def test_not_found_says_what_was_missing(service: Service) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    with pytest.raises(ServiceError) as no_app:
        await service.definitions.list(CLI_ACTOR, "ghost")
    with pytest.raises(ServiceError) as no_definition:
        await service.definitions.get(CLI_ACTOR, app.id, "ghost")
    with pytest.raises(ServiceError) as no_check_target:
        await service.checks.check(CLI_ACTOR, app.id, "ghost")
    assert no_app.value.subject == APP
    assert no_definition.value.subject == no_check_target.value.subject == DEFINITION


async def test_debug_and_integration_id_round_trip(service: Service) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    created = await service.definitions.create(CLI_ACTOR, app.id, new_definition())
    assert (created.debug, created.integration_id) == (False, None)
    changed = await service.definitions.update(
        CLI_ACTOR, app.id, created.id, DefinitionPatch(debug=True, integrationId="smtp-42")
    )
    assert (changed.debug, changed.integration_id) == (True, "smtp-42")
    again = await service.definitions.get(CLI_ACTOR, app.id, created.id)
    assert (again.debug, again.integration_id) == (True, "smtp-42")
    cleared = await service.definitions.update(
        CLI_ACTOR, app.id, created.id, DefinitionPatch(integrationId=None)
    )
    assert cleared.integration_id is None and cleared.debug is True
    with pytest.raises(ValueError, match="integrationId"):
        DefinitionPatch(integrationId="two\nlines")
