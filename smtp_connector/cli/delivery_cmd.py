"""Delivery commands: `send`, `verify`, `test`, `sink` and `demo`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from ..config import SmtpConfig
from ..results import SendResult, Step
from ..testing.devserver import DevServer, ReceivedMail
from .app import (
    EXIT_DELIVERY,
    build_connector,
    config_option,
    echo_json,
    handles_errors,
    json_option,
    load_config,
    main,
)
from .bulk import HEADER_HELP, random_code, send_bulk
from .listen import port_option


def _payload(code: str, link: str | None, app_name: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"code": code}
    if link:
        payload["link"] = link
    if app_name:
        payload["application"] = {"name": app_name}
    return payload


async def _send_one(
    config: SmtpConfig, to: str, usage: str, payload: dict[str, Any], locale: str | None
) -> SendResult:
    async with build_connector(config) as connector:
        return await connector.send(to, usage, payload, locale)


def _print_result(result: SendResult, as_json: bool) -> None:
    if as_json:
        echo_json({"ok": True, "result": result.to_dict()})
        return
    click.secho(f"sent {result.message_id}", fg="green")
    click.echo(f"  server:   {result.server} ({result.attempts} attempt(s))")
    click.echo(f"  accepted: {', '.join(result.accepted)}")
    for rcpt, (code, text) in result.rejected.items():
        click.echo(f"  rejected: {rcpt}: {code} {text}")
    click.echo(f"  response: {result.response}")


@main.command()
@config_option
@click.option("--to", "to", help="Recipient address.")
@click.option("--usage", default="SignIn", show_default=True, help="Usage type, e.g. Register.")
@click.option("--code", default=None, help="The verification code (default: random 6 digits).")
@click.option("--locale", default=None, help="Template locale, e.g. es or pt-BR.")
@click.option("--link", default=None, help="A magic link / invitation URL.")
@click.option("--app-name", default=None, help="application.name for the templates.")
@click.option(
    "--bulk",
    type=click.Path(exists=True, dir_okay=False),
    help=f"CSV file, one message per row; its first row is the header: {HEADER_HELP}. "
    "--usage is the default for rows without one.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Parallel sends for --bulk.",
)
@json_option
@handles_errors
def send(
    config_path: str,
    to: str | None,
    usage: str,
    code: str | None,
    locale: str | None,
    link: str | None,
    app_name: str | None,
    bulk: str | None,
    concurrency: int,
    as_json: bool,
) -> None:
    """Render and send one verification email (or many with --bulk)."""
    config = load_config(config_path)
    if bulk:
        send_bulk(config, Path(bulk), usage, concurrency, as_json)
        return
    if not to:
        raise click.UsageError("--to is required (or use --bulk FILE.csv)")
    payload = _payload(code or random_code(), link, app_name)
    result = asyncio.run(_send_one(config, to, usage, payload, locale))
    _print_result(result, as_json)


@main.command()
@config_option
@json_option
@handles_errors
def verify(config_path: str, as_json: bool) -> None:
    """Connect, start TLS and log in to every server, sending nothing; print each step's time."""
    config = load_config(config_path)
    connector = build_connector(config)  # compiles every template: a broken one exits 3 here

    async def run() -> list[tuple[str, list[Step]]]:
        async with connector:
            return await connector.verify()

    report = asyncio.run(run())
    warnings = [*connector.template_warnings, *_preset_warnings(config)]
    if as_json:
        echo_json(
            {
                "ok": True,
                "servers": [
                    {
                        "server": name,
                        "auth": _mechanism(steps),
                        "steps": [
                            {"step": s.name, "ms": s.seconds * 1000, "detail": s.detail}
                            for s in steps
                        ],
                    }
                    for name, steps in report
                ],
                "warnings": warnings,
            }
        )
        return
    for name, steps in report:
        mechanism = _mechanism(steps)
        click.secho(f"{name}: OK" + (f" (AUTH {mechanism})" if mechanism else ""), fg="green")
        for step in steps:
            detail = f"  {step.detail}" if step.detail else ""
            click.echo(f"  {step.name:<16} {step.seconds * 1000:8.1f} ms{detail}")
    for warning in warnings:
        click.secho(f"warning: {warning}", fg="yellow")


def _mechanism(steps: list[Step]) -> str | None:
    """The AUTH mechanism the server accepted (None for a relay without AUTH)."""
    return next((step.detail for step in steps if step.name == "auth"), None)


def _preset_warnings(config: SmtpConfig) -> list[str]:
    """Provider guard rails (Gmail rewriting From, Aliyun user = From, …) when a preset matches."""
    from ..presets import preset_warnings

    return [w.message for w in preset_warnings(config)]


@main.command("test")
@config_option
@click.option("--to", "to", required=True, help="Where to send the test email.")
@click.option("--locale", default=None, help="Template locale, e.g. es or pt-BR.")
@json_option
@handles_errors
def test_command(config_path: str, to: str, locale: str | None, as_json: bool) -> None:
    """Send the Generic template with code 000000 to check the whole setup."""
    config = load_config(config_path)

    async def run() -> SendResult:
        async with build_connector(config) as connector:
            return await connector.send_test(to, locale)

    _print_result(asyncio.run(run()), as_json)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@port_option(default=1025, free_port_ok=True, help="Port to listen on; 0 picks a free one.")
@click.option(
    "--max-messages",
    type=click.IntRange(min=0),
    default=0,
    help="Exit after this many messages (0 = never).",
)
@click.option("--full", is_flag=True, help="Print whole messages, not just a summary.")
@handles_errors
def sink(host: str, port: int, max_messages: int, full: bool) -> None:
    """Run a local SMTP server that prints every message it receives (like MailHog)."""

    def show(mail: ReceivedMail) -> None:
        message = mail.parsed()
        click.secho(f"--- message for {', '.join(mail.rcpt_tos)} from {mail.mail_from}", fg="cyan")
        if full:
            click.echo(mail.data.decode("utf-8", "replace"))
            return
        click.echo(f"Subject: {message['Subject']}")
        body = message.get_body(("plain", "html"))
        if body is not None:
            click.echo(body.get_content().strip())

    server = DevServer(host, port, on_message=show).start()
    click.echo(f"smtp-connector sink listening on {host}:{server.port} (Ctrl+C to stop)")
    try:
        while not max_messages or len(server.messages) < max_messages:
            server.wait_for(len(server.messages) + 1, timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@main.command()
@click.option("--to", "to", default="new.user@example.org", show_default=True, help="Recipient.")
@click.option("--locale", default="en", show_default=True, help="Template locale.")
@json_option
@handles_errors
def demo(to: str, locale: str, as_json: bool) -> None:
    """Start an embedded SMTP server, send a real SignIn code email to it and show what arrived."""
    from .demo import run_demo

    outcome = run_demo(to=to, locale=locale)
    if as_json:
        echo_json(outcome)
        return
    click.secho("smtp-connector demo", bold=True)
    click.echo(f"  embedded SMTP server : {outcome['server']}")
    click.echo(f"  sent SignIn code     : {outcome['code']} to {to}")
    click.echo(f"  message id           : {outcome['message_id']}")
    click.echo(f"  send took            : {outcome['ms']:.1f} ms\n")
    click.secho("What the server received:", bold=True)
    for name, value in outcome["headers"]:
        click.echo(f"  {name}: {value}")
    click.echo("")
    click.echo("  " + outcome["text"].strip().replace("\n", "\n  "))
    click.echo("")
    found = "found" if outcome["code_in_message"] else "NOT found"
    click.secho(f"The code {outcome['code']} was {found} in the received message.", fg="green")
    if not outcome["code_in_message"]:
        sys.exit(EXIT_DELIVERY)
