"""Finding 15 (LOW): a deeply nested config file made the CLI print a traceback and exit 1.

The promise is one line and exit 2 (`invalid_config`) for any config that cannot be read.
Through the installed `smtp-connector` script: JSON and TOML nested far past the recursion
limit, nested just past the 32-level limit, a file that is not UTF-8 and a number too long to
convert, for two commands that load a config.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from service_support import cli

VALID = '"host": "smtp.example.org", "fromEmail": "otp@example.org"'


def files(folder: Path) -> dict[str, Path]:
    made = {
        "deep.json": "{" + VALID + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "deep.toml": 'host = "smtp.example.org"\ndeep = ' + "[" * 100_000 + "]" * 100_000,
        "deep33.json": "{" + VALID + ', "tls": ' + '{"a": ' * 32 + "1" + "}" * 32 + "}",
        "huge-number.json": "{" + VALID + ', "port": ' + "9" * 5000 + "}",
    }
    paths = {name: folder / name for name in made}
    for name, text in made.items():
        paths[name].write_text(text)
    paths["latin1.json"] = folder / "latin1.json"
    paths["latin1.json"].write_bytes(b'{"fromEmail": "caf\xe9@example.org"}')
    return paths


@pytest.mark.parametrize("command", [["send", "--to", "user@example.org"], ["verify"]])
def test_unreadable_configs_are_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    for name, path in files(tmp_path).items():
        result = cli(command[0], "--config", str(path), *command[1:], check=False)
        assert result.returncode == 2, f"{name}: {result.stderr[-500:]}"
        assert "Traceback" not in result.stderr, name
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: [invalid_config]"), lines
        assert str(path) in lines[0], lines
