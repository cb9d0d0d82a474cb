"""Finding 16, in process on SQLite and PostgreSQL: deleting an app forgets only its own
keys (another tenant's cached key keeps working) and the keys are gone from the database
too (tests/security/test_deleted_app_keys.py runs the real `serve`)."""

from __future__ import annotations

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from api_client import Api

from smtp_connector.store import CLI_ACTOR, AppCreate


async def test_other_apps_keys_stay_cached_and_working(api: Api) -> None:
    service = api.service
    for name in ("one", "two"):
        await service.apps.create(CLI_ACTOR, AppCreate(name=name, id=name))
    one, two = await api.key(app="one"), await api.key(app="two")
    for headers, name in ((one, "one"), (two, "two")):
        assert (await api.client.get(f"/v1/apps/{name}", headers=headers)).status_code == 200
    await service.apps.delete(CLI_ACTOR, "one")
    await service.apps.create(CLI_ACTOR, AppCreate(name="one", id="one"))
    assert (await api.client.get("/v1/apps/one", headers=one)).status_code == 403
    assert (await api.client.get("/v1/apps/two", headers=two)).status_code == 200
    assert [key.app_id for key in await service.keys.list()] == ["two"]
