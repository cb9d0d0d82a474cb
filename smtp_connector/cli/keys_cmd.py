"""`smtp-connector keys create|list|revoke`: API keys for the admin API."""

from __future__ import annotations

import click

from .app import handles_errors, main
from .store_common import database_url_option, run_with_service


@main.group()
def keys() -> None:
    """Create, list and revoke API keys (stored hashed; a key is shown once)."""


@keys.command("create")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(["smtpserver_read", "smtpserver_send", "smtpserver_write"]),
    help="Repeat for several scopes: read lists and looks up, send sends mail (test sends "
    "too), write changes apps and definitions.",
)
@click.option("--name", default=None, help="A label for `keys list` and the audit log.")
@click.option("--app", "app", default=None, help="Limit the key to this app (id or name).")
@database_url_option
@handles_errors
def create(
    scopes: tuple[str, ...], name: str | None, app: str | None, database_url: str | None
) -> None:
    """Create a key; the key itself is the last line of the output."""
    from ..store import CLI_ACTOR

    info, raw = run_with_service(
        database_url, lambda service: service.keys.create(CLI_ACTOR, scopes, name=name, app=app)
    )
    click.echo(f"Created API key {info.id}" + (f" ({info.name})" if info.name else ""))
    click.echo(f"scopes: {', '.join(info.scopes)}; app: {info.app_id or 'any'}")
    click.echo("Store the key now, it is not shown again:")
    click.echo(raw)


@keys.command("list")
@database_url_option
@handles_errors
def list_keys(database_url: str | None) -> None:
    """List keys (id, name, scopes, app, created, revoked); never the keys themselves."""
    rows = run_with_service(database_url, lambda service: service.keys.list())
    if not rows:
        click.echo("No API keys; create one with `smtp-connector keys create --scope ...`.")
    for info in rows:
        state = f"revoked {info.revoked:%Y-%m-%d %H:%M}" if info.revoked else "active"
        click.echo(
            f"{info.id}  {info.name or '-'}  {','.join(info.scopes)}  app={info.app_id or 'any'}"
            f"  created {info.created:%Y-%m-%d %H:%M}  {state}"
        )


@keys.command("revoke")
@click.argument("key_id")
@database_url_option
@handles_errors
def revoke(key_id: str, database_url: str | None) -> None:
    """Revoke a key by its id (from `keys list`); it stops working at once."""
    from ..store import CLI_ACTOR

    info = run_with_service(database_url, lambda service: service.keys.revoke(CLI_ACTOR, key_id))
    click.echo(f"Revoked API key {info.id}.")
