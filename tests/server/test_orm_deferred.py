"""What an idle and a sending `serve` leave unloaded: SQLAlchemy's ORM, the ORM classes
(store/tables.py) and the apps' service (store/parts.py), with `sqlalchemy.ext.asyncio`'s
session half (store/async_engine.py). In a fresh interpreter, on a real SQLite store prepared
beforehand (an app with a definition, a stored template and keys) and a real SMTP server:

- the first sends are hostile or mistaken ones (another tenant's key, a read-only key, a
  broken body, a newcomer's missing field, an unknown app), each refused in the API's terms
  as before, nothing sent or stored;
- two first sends at once, each with its own `Idempotency-Key`, both arrive rendered from
  the stored template, and a repeat is replayed: all of it without the ORM;
- the first admin requests (another tenant's key, a read-only key, a broken body, a missing
  name), then two first reads and two first creations at once, answer as before; the ORM is
  loaded then, and `sqlalchemy.ext.asyncio` holds what a plain import gives it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)

PROGRAM = r"""
import asyncio, json, sys
import httpx
from service_support import definition, loopback_policy
from smtp_connector.store import CLI_ACTOR, READ_SCOPE, SEND_SCOPE, SCOPES, Service

SIGN_IN = {"to": "ana@example.org", "usageType": "SignIn", "payload": {"code": "482913"}}
DEFERRED = ["sqlalchemy.orm", "sqlalchemy.ext.asyncio.session", "smtp_connector.store.tables",
            "smtp_connector.store.apps"]

def loaded():
    return [name for name in DEFERRED if name in sys.modules]

async def setup(url, port):
    from smtp_connector.store import AppCreate, DefinitionCreate
    from smtp_connector.store.template_models import TemplateInput
    service = await Service.open(url, migrate=True, policy=loopback_policy())
    await service.apps.create(CLI_ACTOR, AppCreate(name="Shop", id="shop"))
    await service.apps.create(CLI_ACTOR, AppCreate(name="Other", id="other"))
    plain = definition(port, username=None, password=None)  # a relay without a login
    await service.definitions.create(CLI_ACTOR, "shop", DefinitionCreate.model_validate(plain))
    await service.templates.put(CLI_ACTOR, "shop", "SignIn", "en", TemplateInput(
        subject="Shop code {{code}}", content="<p>Your Shop code is {{code}}.</p>"))
    keys = {
        "admin": (await service.keys.create(CLI_ACTOR, SCOPES))[1],
        "sender": (await service.keys.create(CLI_ACTOR, [SEND_SCOPE], app="shop"))[1],
        "other": (await service.keys.create(CLI_ACTOR, SCOPES, app="other"))[1],
        "reader": (await service.keys.create(CLI_ACTOR, [READ_SCOPE]))[1],
    }
    await service.aclose()
    print(json.dumps(keys))

async def run(url, keys):
    from smtp_connector.server import Settings, create_app
    service = await Service.open(url, policy=loopback_policy())
    app = create_app(Settings(), service=service)
    seen = {"idle": loaded()}
    auth = {name: {"Authorization": f"Bearer {key}"} for name, key in keys.items()}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        async def send(who, body=SIGN_IN, app_id="shop", **headers):
            kwargs = {"content": b'{"to": '} if body is None else {"json": body}
            answer = await client.post(f"/v1/apps/{app_id}/messages",
                                       headers=auth[who] | headers, **kwargs)
            return [answer.status_code, answer.json()]
        newcomer = {k: v for k, v in SIGN_IN.items() if k != "to"}
        seen["refused sends"] = [{
            "other tenant": await send("other"),
            "read-only": await send("reader"),
            "broken json": await send("sender", None, **{"Content-Type": "application/json"}),
            "no to": await send("sender", newcomer),
            "unknown app": await send("admin", app_id="nowhere"),
        }, loaded()]
        pair = await asyncio.gather(send("sender", **{"Idempotency-Key": "k-1"}),
                                    send("sender", **{"Idempotency-Key": "k-2"}))
        again = await send("sender", **{"Idempotency-Key": "k-1"})
        seen["sends"] = [pair, again, loaded()]

        async def admin(method, path, who="admin", body=None, broken=False):
            kwargs = {"content": b'{"name": '} if broken else {}
            if body is not None:
                kwargs["json"] = body
            headers = auth[who] | ({"Content-Type": "application/json"} if broken else {})
            answer = await client.request(method, path, headers=headers, **kwargs)
            return [answer.status_code, answer.json()]
        seen["refused admin"] = {
            "other tenant": await admin("GET", "/v1/apps/shop", "other"),
            "read-only": await admin("POST", "/v1/apps", "reader", {"name": "Reader's"}),
            "broken json": await admin("POST", "/v1/apps", broken=True),
            "no name": await admin("POST", "/v1/apps", body={"testEmail": "ops@example.org"}),
        }
        reads = await asyncio.gather(admin("GET", "/v1/apps/shop"), admin("GET", "/v1/apps/shop"))
        made = await asyncio.gather(admin("POST", "/v1/apps", body={"name": "One", "id": "one"}),
                                    admin("POST", "/v1/apps", body={"name": "Two", "id": "two"}))
        listed = await admin("GET", "/v1/apps")
        package = sys.modules["sqlalchemy.ext.asyncio"]
        seen["admin"] = [reads, made, listed, loaded(), sorted(vars(package))]
    await service.aclose()
    print(json.dumps(seen))

if sys.argv[1] == "setup":
    asyncio.run(setup(sys.argv[2], int(sys.argv[3])))
else:
    asyncio.run(run(sys.argv[2], json.loads(sys.argv[3])))
"""

DEFERRED = [
    "sqlalchemy.orm", "sqlalchemy.ext.asyncio.session", "smtp_connector.store.tables",
    "smtp_connector.store.apps",
]  # fmt: skip


def _program(tmp_path: Path, *args: str) -> Any:
    tests = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, *args], capture_output=True, text=True, timeout=120,
        cwd=tmp_path, env={"PYTHONPATH": str(tests), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _refused_as_before(refused: dict[str, Any], scope: str) -> None:
    """Another tenant's key, a read-only key and a broken body: refused in the API's terms."""
    assert refused["other tenant"][0] == 403
    assert "limited to another app, not 'shop'" in refused["other tenant"][1]["error"]["message"]
    assert refused["read-only"][0] == 403
    assert scope in refused["read-only"][1]["error"]["message"]
    assert refused["broken json"][0] == 422
    assert refused["broken json"][1]["error"]["message"].startswith("Malformed JSON body")


def test_a_sending_serve_loads_no_orm_and_the_first_admin_requests_answer_as_before(
    tmp_path: Path, make_server: Any
) -> None:
    server = make_server()
    database = tmp_path / "orm.db"
    url = f"sqlite:///{database}"
    keys = _program(tmp_path, "setup", url, str(server.port))
    seen = _program(tmp_path, "run", url, json.dumps(keys))

    assert seen["idle"] == []
    refused, after = seen["refused sends"]
    _refused_as_before(refused, "smtpserver_send")
    assert refused["no to"][0] == 422 and "`to`" in refused["no to"][1]["error"]["message"]
    assert refused["unknown app"] == [404, {"error": {"code": "not_found", "smtpCode": None,
        "server": None, "message": "App 'nowhere' not found."}}]  # fmt: skip
    assert after == []

    pair, again, after = seen["sends"]
    assert [status for status, _ in pair] == [200, 200], pair
    assert again[0] == 200 and again[1] == pair[0][1]  # the first answer, replayed
    assert after == []  # two first sends with their keys, and a repeat: no ORM
    assert len(server.messages) == 2
    for message in server.messages:
        assert b"Subject: Shop code 482913" in message.content  # the stored template

    refused = seen["refused admin"]
    _refused_as_before(refused, "smtpserver_write")
    assert refused["no name"][0] == 422
    assert "`name`: Field required" in refused["no name"][1]["error"]["message"]
    reads, made, listed, after, package = seen["admin"]
    assert reads[0] == reads[1] and reads[0][0] == 200 and reads[0][1]["name"] == "Shop"
    assert [status for status, _ in made] == [201, 201]
    assert listed[0] == 200
    assert [app["id"] for app in listed[1]] == ["one", "other", "shop", "two"]
    assert after == DEFERRED  # the admin's requests loaded them
    assert {"AsyncSession", "async_sessionmaker", "async_scoped_session"} <= set(package)

    with sqlite3.connect(database) as db:  # what the refused requests left: nothing
        kept = db.execute("SELECT app_id, idempotency_key, state FROM idempotent_sends")
        assert sorted(kept) == [("shop", "k-1", "done"), ("shop", "k-2", "done")]
        assert db.execute("SELECT count(*) FROM apps").fetchone() == (4,)
