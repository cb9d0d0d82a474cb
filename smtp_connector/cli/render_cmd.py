"""`smtp-connector render`: show what a template produces, so a person can look at it."""

from __future__ import annotations

from pathlib import Path

import click

from .app import (
    build_connector,
    config_option,
    echo_json,
    handles_errors,
    json_option,
    load_config,
    main,
)

EXAMPLE_LINK = "https://example.com/invitation/accept?token=example"


@main.command()
@config_option
@click.option("--usage", default="SignIn", show_default=True, help="Usage type, e.g. Register.")
@click.option("--code", default=None, help="The code [default: 123456; none for invitations].")
@click.option("--locale", default=None, help="Locale, e.g. es or pt-BR.")
@click.option(
    "--link",
    default=None,
    help="A magic link / invitation URL for the payload [invitations: an example link].",
)
@click.option("--app-name", default=None, help="application.name for the payload.")
@click.option("--org", default=None, help="organization.name, to preview invitations.")
@click.option("--inviter", default=None, help="inviter.name, to preview invitations.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Write the HTML here.")
@click.option("--eml", "eml_out", type=click.Path(dir_okay=False), help="Write the whole message.")
@json_option
@handles_errors
def render(
    config_path: str,
    usage: str,
    code: str | None,
    locale: str | None,
    link: str | None,
    app_name: str | None,
    org: str | None,
    inviter: str | None,
    html_out: str | None,
    eml_out: str | None,
    as_json: bool,
) -> None:
    """Render a template and print its subject and text (HTML to --html)."""
    from ..compose.checks import CODELESS_USAGE_TYPES

    codeless = usage in CODELESS_USAGE_TYPES  # Logto sends invitations as a link, no code
    payload: dict[str, object] = {}
    if code or not codeless:
        payload["code"] = code or "123456"
    if link or codeless:
        payload["link"] = link or EXAMPLE_LINK
    for key, name in (("application", app_name), ("organization", org), ("inviter", inviter)):
        if name:
            payload[key] = {"name": name}
    connector = build_connector(load_config(config_path))
    rendered = connector.render(usage, payload, locale=locale)
    if html_out and rendered.html is not None:
        Path(html_out).write_text(rendered.html, encoding="utf-8")
    if eml_out:
        Path(eml_out).write_bytes(rendered.as_bytes())
    if as_json:
        echo_json({"subject": rendered.subject, "text": rendered.text, "html": rendered.html})
        return
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.text or "(no text part)")
    if html_out:
        click.echo(f"HTML written to {html_out}" if rendered.html else "(no HTML part)")
