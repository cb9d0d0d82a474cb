"""`smtp-connector secrets rotate`: re-encrypt every stored secret with the first key."""

from __future__ import annotations

import click

from .app import handles_errors, main
from .store_common import database_url_option, run_with_service


@main.group()
def secrets() -> None:
    """Encryption of stored secrets (SMTP_CONNECTOR_SECRET_KEY)."""


@secrets.command("rotate")
@database_url_option
@handles_errors
def rotate(database_url: str | None) -> None:
    """Re-encrypt with the first key of SMTP_CONNECTOR_SECRET_KEY; afterwards the old keys
    can be removed from it."""
    count = run_with_service(database_url, lambda service: service.rotate_secrets())
    click.echo(f"Re-encrypted {count} stored secret(s) with the first key.")
