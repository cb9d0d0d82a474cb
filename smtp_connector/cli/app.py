"""The `smtp-connector` command group and what every subcommand shares: config loading,
`--json` output (camelCase keys, as the HTTP API's) and one mapping from `ConnectorError` to
exit codes, so scripts can branch on failures without parsing text.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import ConnectorError, ErrorCode, TemplateWarning
from .group import CliGroup

if TYPE_CHECKING:
    from ..config import SmtpConfig
    from ..connector import SmtpConnector

F = TypeVar("F", bound=Callable[..., Any])

# Exit codes (docs/cli.md): 0 ok, 1 delivery failed, 2 usage or config error
# (a bad option, a port in use, a missing extra), 3 template error, 4 not found (an id that
# names nothing, e.g. `keys revoke`).
EXIT_DELIVERY = 1
EXIT_CONFIG = 2
EXIT_TEMPLATE = 3
EXIT_NOT_FOUND = 4
_CONFIG_CODES = {ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_RECIPIENT}
_TEMPLATE_CODES = {ErrorCode.TEMPLATE_ERROR, ErrorCode.TEMPLATE_NOT_FOUND}
# A store refusal's kind, shown as its code the way the HTTP API shows it (store/errors.py).
_REASON_CODES = {"not_found": "not_found", "forbidden": "forbidden"}


@click.group(cls=CliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smtp-connector")
def main() -> None:
    """Send verification-code emails over SMTP (Logto-compatible config)."""


def error_code(error: ConnectorError) -> str:
    """The code the CLI prints: the `ErrorCode`, or for a store refusal its kind (`not_found`
    rather than the `invalid_config` the store error carries), as the HTTP API answers."""
    return _REASON_CODES.get(getattr(error, "reason", ""), error.code.value)


def exit_code_for(error: ConnectorError) -> int:
    if error_code(error) == "not_found":
        return EXIT_NOT_FOUND
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
                echo_json({"ok": False, "error": error_json(error)})
            else:
                code = error_code(error)
                text = f"[{code}]" + str(error).removeprefix(f"[{error.code.value}]")
                click.secho(f"error: {text}", fg="red", err=True)
                hint = _hint(error)
                if hint:
                    click.echo(f"hint: {hint}", err=True)
            sys.exit(exit_code_for(error))

    return wrapper  # type: ignore[return-value]


def error_json(error: ConnectorError) -> dict[str, Any]:
    """`ConnectorError.to_dict()` with the CLI's code; `echo_json` makes the keys camelCase."""
    return {**error.to_dict(), "code": error_code(error)}


# Advice the CLI adds where the library's message has none of its own. The library's AUTH and
# timeout messages always say what to change, so only a bare connection failure gets one;
# a message that already advises ("…; check `host`.") is not followed by a second hint.
_HINTS = {ErrorCode.CONNECTION_FAILED: "check host and port, and that outbound SMTP is not blocked"}
_ADVICE = re.compile(r"\bcheck\b", re.IGNORECASE)


def _hint(error: ConnectorError) -> str | None:
    hint = _HINTS.get(error.code)
    return None if hint is None or _ADVICE.search(error.message) else hint


def load_config(path: str) -> SmtpConfig:
    from ..config import SmtpConfig  # not with the CLI: `serve` and `keys` never need it

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
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (JSON, camelCase keys)."
)


def echo_json(data: Any) -> None:
    """Print `data` as JSON with the HTTP API's camelCase keys (`smtpCode`, `messageId`…):
    the library's snake_case dicts are converted here, at the CLI's edge."""
    click.echo(json.dumps(camel_keys(data), indent=2, ensure_ascii=False, default=_json_value))


_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
# Values that are data, not our field names: a config file's content is shown as written.
_VERBATIM = frozenset({"config"})


def camel_keys(data: Any) -> Any:
    """snake_case keys to camelCase, recursively; keys that are not snake_case names
    (addresses, header names, camelCase config keys) are left as they are."""
    if isinstance(data, dict):
        return {
            _camel(key): value if key in _VERBATIM else camel_keys(value)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [camel_keys(item) for item in data]
    return data


def _camel(key: Any) -> Any:
    if not isinstance(key, str) or not _SNAKE.match(key):
        return key
    first, *rest = key.split("_")
    return first + "".join(part.capitalize() for part in rest)


def format_table(rows: list[dict[str, str]]) -> str:
    """Left-aligned columns, two spaces apart; the first row is the header."""
    keys = list(rows[0])
    widths = {k: max(len(row[k]) for row in rows) for k in keys}
    lines = ["  ".join(row[k].ljust(widths[k]) for k in keys).rstrip() for row in rows]
    return "\n".join(lines)


def _json_value(value: Any) -> str:
    """Datetimes as ISO 8601 with their zone (the store keeps UTC; SQLite hands it back
    without one); anything else as its text."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)
