"""`keys` and `db` from the command line: revoking twice, an unknown id, the table and the
JSON of `keys list`, the scopes offered, and `--json` on `db upgrade` (PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner
from service_support import cli, postgres_database

from smtp_connector.cli import main
from smtp_connector.store import CLI_ACTOR, SCOPES, AppCreate, Service
from smtp_connector.store.migrate import head_revision


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), prog_name="smtp-connector")
    return result.exit_code, result.stdout, result.stderr


def create_key(url: str, *args: str) -> str:
    """A new key (in-process: the subprocess runs are kept for what each test is about)."""
    code, out, err = invoke("keys", "create", "--database-url", url, *args)
    assert code == 0, err
    return out.splitlines()[-1]


def authenticates(url: str, raw: str) -> bool:
    async def check() -> bool:
        service = await Service.open(url)
        try:
            return await service.keys.authenticate(raw) is not None
        finally:
            await service.aclose()

    return asyncio.run(check())


def test_revoking_twice_says_already_revoked_and_an_unknown_id_is_not_found(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    raw = create_key(url, "--scope", "smtpserver_read")
    key_id = raw.split("_")[1]
    assert authenticates(url, raw)

    assert invoke("keys", "revoke", key_id, "--database-url", url)[1] == (
        f"Revoked API key {key_id}.\n"
    )
    assert not authenticates(url, raw)
    again = cli("keys", "revoke", key_id, "--database-url", url)  # said "Revoked" again
    assert again.stdout.startswith(f"API key {key_id} was already revoked (")
    # The key itself, pasted instead of its id, names the same key.
    code, out, _ = invoke("keys", "revoke", raw, "--database-url", url, "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["id"], shown["alreadyRevoked"]) == (key_id, True)
    assert shown["revoked"].endswith("+00:00") and "key" not in shown

    unknown = cli("keys", "revoke", "0123456789ab", "--database-url", url, check=False)
    assert unknown.returncode == 4  # was [invalid_config], exit 2
    assert unknown.stderr == "error: [not_found] API key '0123456789ab' not found.\n"
    code, out, _ = invoke("keys", "revoke", "0123456789ab", "--database-url", url, "--json")
    assert code == 4 and json.loads(out)["error"]["code"] == "not_found"


def test_keys_list_shows_scopes_and_app(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"

    async def make_app() -> str:
        service = await Service.open(url)
        try:
            return (await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))).id
        finally:
            await service.aclose()

    app_id = asyncio.run(make_app())
    scoped = create_key(url, "--scope", "smtpserver_read", "--app", "shop").split("_")[1]
    code, out, _ = invoke("keys", "create", *(f"--scope={s}" for s in sorted(SCOPES)),
                          "--name", "ops", "--database-url", url, "--json")  # fmt: skip
    assert code == 0
    created = json.loads(out)
    assert created["key"].startswith(f"sck_{created['id']}_")
    assert (created["scopes"], created["appId"]) == (sorted(SCOPES), None)

    table = cli("keys", "list", "--database-url", url).stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "SCOPES", "APP", "CREATED", "STATE"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows[scoped][1:4] == ["-", "smtpserver_read", app_id]
    assert rows[created["id"]][1:4] == ["ops", ",".join(sorted(SCOPES)), "any"]
    assert rows[scoped][-1] == "active"

    code, out, _ = invoke("keys", "list", "--database-url", url, "--json")
    listed = {key["id"]: key for key in json.loads(out)}
    assert listed[scoped]["appId"] == app_id and listed[scoped]["scopes"] == ["smtpserver_read"]
    assert listed[scoped]["revoked"] is None and "key" not in listed[scoped]


def test_scopes_offered_are_the_stores(tmp_path: Path) -> None:
    """`--scope` lists `smtp_connector.store.SCOPES`, so a new scope needs no CLI change."""
    code, out, _ = invoke("keys", "create", "--help")
    assert code == 0
    assert f"[{'|'.join(sorted(SCOPES))}]" in out
    url = f"sqlite:///{tmp_path / 'service.db'}"
    code, _, err = invoke("keys", "create", "--scope", "smtpserver_admin", "--database-url", url)
    assert code == 2 and err.count("\n") == 1
    assert all(scope in err for scope in SCOPES)


def test_db_upgrade_json_on_postgresql() -> None:
    with postgres_database() as url:
        first = json.loads(cli("db", "upgrade", "--database-url", url, "--json").stdout)
        assert first == {
            "database": first["database"],
            "revision": head_revision(),
            "queueTables": "created",
        }
        assert "postgresql+psycopg://" in first["database"]
        code, out, _ = invoke("db", "upgrade", "--database-url", url, "--json")
        assert code == 0 and json.loads(out)["queueTables"] == "present"
