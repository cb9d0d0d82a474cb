"""The templates domain layer in-process (SQLite and PostgreSQL): the calls the Logto dialect and
the CLI build on — by id, bulk delete, concurrent saves, the send path's snapshot — with the
rows the database holds."""

from __future__ import annotations

import asyncio

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from sqlalchemy import select

from smtp_connector import ConnectorError
from smtp_connector.store import CLI_ACTOR, Actor, AppCreate, Service, ServiceError
from smtp_connector.store.tables import AppRow, AppTemplateRow
from smtp_connector.store.template_models import TemplateInput, TemplateLimits

OK = TemplateInput.model_validate({"subject": "Code {{code}}", "content": "<p>{{code}}</p>"})


async def apps(service: Service) -> tuple[str, str]:
    first = await service.apps.create(CLI_ACTOR, AppCreate(name="a", fromEmail="o@a.example.com"))
    second = await service.apps.create(CLI_ACTOR, AppCreate(name="b"))
    return first.id, second.id


async def test_by_id_is_not_found_for_another_apps_key(service: Service) -> None:
    mine, theirs = await apps(service)
    saved = await service.templates.put(CLI_ACTOR, mine, "SignIn", "en", OK)
    assert (await service.templates.get_by_id(CLI_ACTOR, saved.template.id)).app_id == mine
    other = Actor("key:other", app_id=theirs)
    with pytest.raises(ServiceError) as refused:
        await service.templates.get_by_id(other, saved.template.id)
    assert refused.value.reason == "not_found"  # as an unknown id: ids cannot be probed
    with pytest.raises(ServiceError) as forbidden:
        await service.templates.page(other, mine)
    assert forbidden.value.reason == "forbidden"


async def test_delete_many_by_filters_and_the_version_each_change_bumps(service: Service) -> None:
    mine, _ = await apps(service)
    for usage, tag in (("SignIn", "en"), ("SignIn", "de"), ("Register", "de")):
        await service.templates.put(CLI_ACTOR, mine, usage, tag, OK)
    assert await _templates_version(service, mine) == 4  # 1 + three saves
    assert await service.templates.delete_many(CLI_ACTOR, mine, locale="DE") == 2
    assert await service.templates.delete_many(CLI_ACTOR, mine, usage_type="Register") == 0
    left = (await service.templates.page(CLI_ACTOR, mine)).items
    assert [(t.usage_type, t.locale) for t in left] == [("SignIn", "en")]
    assert await _templates_version(service, mine) == 5  # one bump for the bulk delete


async def test_concurrent_first_saves_of_one_template_make_one_row(service: Service) -> None:
    mine, _ = await apps(service)
    results = await asyncio.gather(
        *(service.templates.put(CLI_ACTOR, mine, "SignIn", "en", OK) for _ in range(4)),
        return_exceptions=True,
    )
    saved = [r for r in results if not isinstance(r, BaseException)]
    assert [r for r in results if isinstance(r, BaseException)] == [] or all(
        isinstance(r, ServiceError) and r.reason == "conflict"
        for r in results
        if isinstance(r, BaseException)
    )
    assert sum(1 for r in saved if r.created) == 1
    async with service.database.transaction() as session:
        rows = (await session.scalars(select(AppTemplateRow))).all()
    assert len(rows) == 1 and rows[0].version == len(saved)


async def test_the_limits_come_from_the_environment() -> None:
    limits = TemplateLimits.from_env({"SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP": "3",
                                      "SMTP_CONNECTOR_MAX_TEMPLATE_BYTES": "2048"})  # fmt: skip
    assert (limits.max_per_app, limits.max_bytes) == (3, 2048)
    with pytest.raises(Exception, match="SMTP_CONNECTOR_MAX_TEMPLATE_BYTES"):
        TemplateLimits.from_env({"SMTP_CONNECTOR_MAX_TEMPLATE_BYTES": "lots"})


async def _templates_version(service: Service, app_id: str) -> int:
    async with service.database.transaction() as session:
        app = await session.get(AppRow, app_id)
        assert app is not None
        return app.templates_version


async def test_put_many_stores_all_or_none(service: Service) -> None:
    mine, _ = await apps(service)
    bomb = TemplateInput.model_validate({"subject": "s", "content": "{{ 'a' * 10**9 }}"})
    with pytest.raises(ConnectorError) as refused:
        await service.templates.put_many(
            CLI_ACTOR, mine, [("SignIn", "en", OK), ("Register", "de", bomb)]
        )
    assert refused.value.message.startswith("templates[1] (Register/de): ")
    assert (await service.templates.page(CLI_ACTOR, mine)).items == []

    capped = Service(service.database, service.box, template_limits=TemplateLimits(max_per_app=2))
    try:
        with pytest.raises(ServiceError) as over:
            await capped.templates.put_many(
                CLI_ACTOR, mine, [("SignIn", tag, OK) for tag in ("en", "de", "fr")]
            )
    finally:
        await capped.connectors.aclose()  # its build threads (the database is the fixture's)
    assert over.value.label == "too_many_templates"
    assert (await service.templates.page(CLI_ACTOR, mine)).items == []  # not even the first two

    saved = await service.templates.put_many(
        CLI_ACTOR, mine, [("SignIn", "en", OK), ("SignIn", "EN", OK), ("Register", "de", OK)]
    )
    assert [(s.created, s.template.version) for s in saved] == [(True, 1), (False, 2), (True, 1)]
    assert await _templates_version(service, mine) == 2  # one change, one bump
