"""The Click classes every `smtp-connector` command is built from.

Two departures from Click's defaults, both for the person at the terminal:

- a group lists each subcommand with its whole first sentence (wrapped), where Click cuts
  it at the terminal's width with "…", often mid-thought;
- a usage error (a bad or missing option, an unknown command) is one `error: …` line on
  stderr naming the `--help` to read, like every other error of the CLI, instead of Click's
  usage block, so scripts and people read the same single line. The exit code stays 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

import click

# Click >= 8.2 prints a group's help through this UsageError subclass when the group is run
# without a subcommand; that help must stay as it is.
_SHOWS_HELP: tuple[type[BaseException], ...] = tuple(
    cls for cls in [getattr(click.exceptions, "NoArgsIsHelpError", None)] if cls is not None
)


class OneLineUsageError(click.UsageError):
    """A usage error shown as `error: <what is wrong> (see: <command> --help)`."""

    def show(self, file: IO[Any] | None = None) -> None:
        where = f" (see: {self.ctx.command_path} --help)" if self.ctx is not None else ""
        click.echo(f"error: {self.format_message()}{where}", file=file or sys.stderr)


@contextmanager
def one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except OneLineUsageError:
        raise
    except click.UsageError as error:
        if _SHOWS_HELP and isinstance(error, _SHOWS_HELP):
            raise
        raise OneLineUsageError(error.format_message(), error.ctx) from None


class CliCommand(click.Command):
    """A command whose summary in its group's listing is never cut short."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=sys.maxsize)


class CliGroup(click.Group):
    """A group of `CliCommand`s (and of groups like itself) with one-line usage errors.

    `lazy_commands` names the module that registers each command not yet loaded: a run
    imports only its own command's module (`serve` does not load the SMTP dev server that
    `sink` and `demo` use), a listing (`--help`) imports them all."""

    command_class = CliCommand
    group_class = type  # subgroups are CliGroups too
    lazy_commands: Mapping[str, str] = {}  # command name -> module (imported on first use)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in dict.fromkeys(self.lazy_commands.values()):
            importlib.import_module(module)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            importlib.import_module(self.lazy_commands[cmd_name])
        return super().get_command(ctx, cmd_name)

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=sys.maxsize)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with one_line_usage_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with one_line_usage_errors():
            return super().invoke(ctx)
