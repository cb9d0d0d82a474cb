"""`smtp-connector keys create|list|revoke`: API keys for the admin API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .app import echo_json, format_table, handles_errors, json_option, main
from .store_common import ScopeChoice, database_url_option, need_server_extra, run_with_service

if TYPE_CHECKING:
    from ..store import ApiKeyInfo, Service

KEY_PREFIX = "sck_"  # as store/keys.py makes them: sck_<id>_<secret>


@main.group()
@handles_errors
def keys() -> None:
    """Create, list and revoke API keys (stored hashed; a key is shown once)."""
    need_server_extra()  # before a subcommand reads its options (--scope asks the store)


@keys.command("create")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=ScopeChoice(),
    help="What the key may do; repeat the option for several scopes: read lists and looks up, "
    "send sends mail (test sends too), write changes apps and definitions.",
)
@click.option("--name", default=None, help="A label for `keys list` and the audit log.")
@click.option("--app", "app", default=None, help="Limit the key to this app (id or name).")
@database_url_option
@json_option
@handles_errors
def create(
    scopes: tuple[str, ...],
    name: str | None,
    app: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Create a key; the key itself is the last line of the output."""
    from ..store import CLI_ACTOR

    info, raw = run_with_service(
        database_url, lambda service: service.keys.create(CLI_ACTOR, scopes, name=name, app=app)
    )
    if as_json:
        echo_json({**key_json(info), "key": raw})
        return
    click.echo(f"Created API key {info.id}" + (f" ({info.name})" if info.name else ""))
    click.echo(f"scopes: {', '.join(info.scopes)}; app: {info.app_id or 'any'}")
    click.echo("Store the key now, it is not shown again:")
    click.echo(raw)


@keys.command("list")
@database_url_option
@json_option
@handles_errors
def list_keys(database_url: str | None, as_json: bool) -> None:
    """List keys with their scopes and app (never the keys themselves)."""
    rows = run_with_service(database_url, lambda service: service.keys.list())
    if as_json:
        echo_json([key_json(info) for info in rows])
        return
    if not rows:
        click.echo("No API keys; create one with `smtp-connector keys create --scope ...`.")
        return
    header = {"id": "ID", "name": "NAME", "scopes": "SCOPES", "app": "APP",
              "created": "CREATED", "state": "STATE"}  # fmt: skip
    click.echo(format_table([header, *(_row(info) for info in rows)]))


def _row(info: ApiKeyInfo) -> dict[str, str]:
    return {
        "id": info.id,
        "name": info.name or "-",
        "scopes": ",".join(info.scopes),
        "app": info.app_id or "any",
        "created": f"{info.created:%Y-%m-%d %H:%M}",
        "state": f"revoked {info.revoked:%Y-%m-%d %H:%M}" if info.revoked else "active",
    }


def key_json(info: ApiKeyInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "scopes": info.scopes,
        "app_id": info.app_id,
        "created": info.created,
        "revoked": info.revoked,
    }


@keys.command("revoke")
@click.argument("key_id", metavar="ID")
@database_url_option
@json_option
@handles_errors
def revoke(key_id: str, database_url: str | None, as_json: bool) -> None:
    """Revoke a key by its id (from `keys list`); running `serve` processes refuse it within
    2 s. Revoking a revoked key changes nothing and says so; an unknown id exits 4
    (not_found)."""
    from ..store import CLI_ACTOR

    key_id = _key_id(key_id)

    async def run(service: Service) -> tuple[ApiKeyInfo, bool]:
        before = next((k for k in await service.keys.list() if k.id == key_id), None)
        info = await service.keys.revoke(CLI_ACTOR, key_id)  # not_found for an unknown id
        return info, before is not None and before.revoked is not None

    info, already = run_with_service(database_url, run)
    if as_json:
        echo_json({**key_json(info), "already_revoked": already})
    elif already:
        click.echo(f"API key {info.id} was already revoked ({info.revoked:%Y-%m-%d %H:%M}).")
    else:
        click.echo(f"Revoked API key {info.id}.")


def _key_id(given: str) -> str:
    """The id from what a person may paste: the id, the `sck_<id>` prefix, or the key."""
    given = given.strip()
    if given.startswith(KEY_PREFIX):
        return given.removeprefix(KEY_PREFIX).split("_", 1)[0]
    return given
