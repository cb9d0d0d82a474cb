"""`smtp-connector secrets rotate`: re-encrypt every stored secret with the first key."""

from __future__ import annotations

import click

from .app import echo_json, handles_errors, json_option, main
from .store_common import database_url_option, need_server_extra, run_with_service


@main.group()
@handles_errors
def secrets() -> None:
    """Encryption of stored secrets (SMTP_CONNECTOR_SECRET_KEY)."""
    need_server_extra()


@secrets.command("rotate")
@database_url_option
@json_option
@handles_errors
def rotate(database_url: str | None, as_json: bool) -> None:
    """Re-encrypt with the first key of SMTP_CONNECTOR_SECRET_KEY; afterwards the old keys
    can be removed from it."""
    count = run_with_service(database_url, lambda service: service.rotate_secrets())
    if as_json:
        echo_json({"reencrypted": count})
        return
    click.echo(f"Re-encrypted {count} stored secret(s) with the first key.")
