"""Issue 26 §5: each command's module is imported when that command runs, so `serve` starts
without the SMTP dev server (`sink`, `demo`) and the other commands' imports; the listing
still shows every command, and the name → module map misses none."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

from click.testing import CliRunner

from smtp_connector.cli import main

REPORT = """
import sys
from smtp_connector.cli import main
try:
    main([{args}])
except SystemExit:
    pass
print(sorted(m for m in sys.modules if m.startswith(("smtp_connector.cli.", "aiosmtpd"))))
"""


def loaded_by(*args: str) -> list[str]:
    code = REPORT.format(args=", ".join(repr(a) for a in args))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def test_serve_loads_only_its_own_command_module() -> None:
    loaded = loaded_by("serve", "--help")
    assert "smtp_connector.cli.serve_cmd" in loaded
    assert not [m for m in loaded if m.startswith("aiosmtpd")]
    assert "smtp_connector.cli.delivery_cmd" not in loaded


def test_the_map_names_every_registered_command() -> None:
    for module in set(main.lazy_commands.values()):
        importlib.import_module(module)
    assert set(main.commands) == set(main.lazy_commands)


def test_help_lists_every_command() -> None:
    shown = CliRunner().invoke(main, ["--help"]).output
    for name in main.lazy_commands:
        assert f"  {name} " in shown, name


def test_a_mistyped_command_gets_the_one_line_error() -> None:
    """The newcomer's typo: one line naming the command, as before the commands were lazy."""
    result = CliRunner().invoke(main, ["serv"])
    assert result.exit_code == 2
    assert "No such command 'serv'" in result.output
    assert "smtp-connector --help" in result.output or "--help" in result.output
