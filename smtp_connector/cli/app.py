"""The `smtp-connector` command group and what every subcommand shares: config loading,
`--json` output and one mapping from `ConnectorError` to exit codes, so scripts can branch on
failures without parsing text.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..config import SmtpConfig
from ..errors import ConnectorError, ErrorCode, TemplateWarning

if TYPE_CHECKING:
    from ..connector import SmtpConnector

F = TypeVar("F", bound=Callable[..., Any])

# Exit codes: 0 ok, 1 delivery failed, 2 usage/config error, 3 template error.
EXIT_DELIVERY = 1
EXIT_CONFIG = 2
EXIT_TEMPLATE = 3
_CONFIG_CODES = {ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_RECIPIENT}
_TEMPLATE_CODES = {ErrorCode.TEMPLATE_ERROR, ErrorCode.TEMPLATE_NOT_FOUND}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smtp-connector")
def main() -> None:
    """Send verification-code emails over SMTP (Logto-compatible config)."""


def exit_code_for(error: ConnectorError) -> int:
    if error.code in _CONFIG_CODES:
        return EXIT_CONFIG
    if error.code in _TEMPLATE_CODES:
        return EXIT_TEMPLATE
    return EXIT_DELIVERY


def handles_errors(func: F) -> F:
    """Print a `ConnectorError` as one clear line (or JSON with --json) and exit with its code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConnectorError as error:
            if kwargs.get("as_json"):
                click.echo(json.dumps({"ok": False, "error": error.to_dict()}, indent=2))
            else:
                click.secho(f"error: {error}", fg="red", err=True)
                hint = _hint(error)
                if hint:
                    click.echo(f"hint: {hint}", err=True)
            sys.exit(exit_code_for(error))

    return wrapper  # type: ignore[return-value]


def _hint(error: ConnectorError) -> str | None:
    hints = {
        ErrorCode.AUTH_FAILED: "check auth.user / auth.pass (many providers need an app password)",
        ErrorCode.CONNECTION_FAILED: "check host and port, and that outbound SMTP is not blocked",
        ErrorCode.TIMEOUT: "the server did not answer in time; check host/port and timeouts",
    }
    return hints.get(error.code)


def load_config(path: str) -> SmtpConfig:
    return SmtpConfig.from_file(Path(path))


def build_connector(config: SmtpConfig) -> SmtpConnector:
    """The command's connector. Building it compiles every template (a broken one exits 3);
    what it warns about is printed as `warning: …` lines on stderr instead of Python's
    file:line warning format."""
    from ..connector import SmtpConnector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TemplateWarning)
        connector = SmtpConnector(config)
    for text in connector.template_warnings:
        click.secho(f"warning: {text}", fg="yellow", err=True)
    return connector


config_option = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Config file (JSON or TOML, Logto's SMTP connector format; ${ENV} expanded).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
