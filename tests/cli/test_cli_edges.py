"""The CLI at its edges, through the real `smtp-connector` console script: ports refused before
anything starts, a busy port, a missing extra, and help texts that are whole.

Every refusal here is one `error: …` line on stderr and exit 2, with nothing started (no
database file created, no port left bound)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from smtp_connector.cli import main

EXE = Path(sys.executable).with_name("smtp-connector")
WITHOUT_EXTRAS = Path(__file__).parent / "without_extras"


def run(
    args: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The console script, in `cwd` (so a default ./smtp-connector.db would land there)."""
    return subprocess.run(
        [str(EXE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_all(
    commands: Sequence[Sequence[str]], cwd: Path, env: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Several runs side by side (each is mostly interpreter start-up)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: run(args, cwd, env, timeout=30), commands))


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exit 2, printed nothing on stdout and one `error:` line on stderr."""
    shown = f"stdout={result.stdout!r} stderr={result.stderr!r}"
    assert result.returncode == 2, shown
    assert result.stdout == "", shown
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), shown
    assert "Traceback" not in result.stderr
    return result.stderr


# -- ports ---------------------------------------------------------------------------------


def test_out_of_range_ports_are_refused_before_anything_starts(tmp_path: Path) -> None:
    database = tmp_path / "service.db"
    url = f"sqlite:///{database}"
    or_free = "use 1-65535, or 0 for any free port"
    cases = [
        # serve used to log "running on :70000" and listen on 4464 (70000 - 65536)
        (["serve", "--database-url", url, "--port", "70000"], "70000", or_free),
        # sink used to print an OverflowError traceback
        (["sink", "--port", "70000"], "70000", or_free),
        # a port in a config file: 0 means nothing there
        (["init", "--preset", "sendgrid", "--no-input", "--port", "0"], "0", "use 1-65535."),
    ]
    results = run_all([args for args, _, _ in cases], tmp_path)
    for (args, port, expected), result in zip(cases, results, strict=True):
        line = one_error_line(result)
        assert f"'--port': {port} is not a valid port; {expected}" in line, line
        assert f"(see: smtp-connector {args[0]} --help)" in line
    assert not database.exists()
    assert not (tmp_path / "smtp.json").exists()


@pytest.mark.parametrize(
    ("args", "shown"),
    [(["sink", "--port", "-1"], "-1"), (["serve", "--port", "http"], "'http'"),
     (["sink", "--port", ""], "''")],
)  # fmt: skip
def test_a_port_that_is_not_a_number_in_range(args: list[str], shown: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, args, prog_name="smtp-connector")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"error: Invalid value for '--port': {shown} is not a valid port; use 1-65535, or 0 for "
        f"any free port. (see: smtp-connector {args[0]} --help)\n"
    )


def test_serve_on_a_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    database = tmp_path / "service.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["serve", "--port", str(port), "--database-url", f"sqlite:///{database}"],
                     tmp_path, timeout=30)  # fmt: skip
    line = one_error_line(result)  # was uvicorn's log and exit 3, the "template error" code
    assert f"127.0.0.1:{port}" in line and "already in use" in line and "--port" in line
    assert not database.exists()  # refused before the database was opened


def test_serve_on_an_address_that_is_not_local(tmp_path: Path) -> None:
    args = ["serve", "--database-url", f"sqlite:///{tmp_path / 'service.db'}"]
    foreign = CliRunner().invoke(main, [*args, "--host", "192.0.2.1"], prog_name="smtp-connector")
    assert foreign.exit_code == 2 and foreign.stderr.count("\n") == 1  # TEST-NET-1, never ours
    assert "192.0.2.1:8025" in foreign.stderr and "--host 127.0.0.1" in foreign.stderr
    assert not (tmp_path / "service.db").exists()


@pytest.mark.parametrize(
    "host", ["/etc/passwd", "http://127.0.0.1", "bücher.invalid", "127.0.0.1 0.0.0.0"],
    ids=["path", "url", "non-ascii", "two-values"],
)  # fmt: skip
def test_serve_on_a_host_that_is_not_an_address(tmp_path: Path, host: str) -> None:
    """The listening host goes to getaddrinfo as the send path hands it (no idna codec): a
    path, a URL, an unknown non-ASCII name or two values pasted together are still one line
    naming the host and what to pass, before the database is opened."""
    args = ["serve", "--database-url", f"sqlite:///{tmp_path / 'service.db'}", "--host", host]
    result = CliRunner().invoke(main, args, prog_name="smtp-connector")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert host in result.stderr and "--host" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "service.db").exists()


# -- a missing extra -----------------------------------------------------------------------


def hiding(*modules: str) -> dict[str, str]:
    """An environment in which `modules` cannot be imported (see without_extras/)."""
    path = os.pathsep.join(filter(None, [str(WITHOUT_EXTRAS), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "SMTP_CONNECTOR_TEST_HIDE": ",".join(modules)}


def test_the_hiding_environment_really_hides(tmp_path: Path) -> None:
    probe = [sys.executable, "-c", "import sqlalchemy"]
    hidden = subprocess.run(probe, env=hiding("sqlalchemy"), capture_output=True, text=True)
    assert hidden.returncode == 1 and "No module named 'sqlalchemy'" in hidden.stderr
    assert subprocess.run(probe, env=hiding()).returncode == 0


def test_every_command_needing_the_server_extra_says_how_to_install_it(tmp_path: Path) -> None:
    """`keys create` after a plain `pip install .` was a ModuleNotFoundError traceback; the
    others named only the PyPI form, which fails from a checkout of an unpublished version."""
    commands = [
        ["keys", "create", "--scope", "smtpserver_read"],
        ["keys", "revoke", "0123456789ab"],
        ["db", "upgrade"],
        ["secrets", "rotate"],
        ["serve"],
        ["worker"],
        ["templates", "import", "--app", "shop", "."],
    ]
    for command, result in zip(commands, run_all(commands, tmp_path, hiding("sqlalchemy")),
                               strict=True):  # fmt: skip
        line = one_error_line(result)
        assert f"`smtp-connector {command[0]}" in line, line
        assert "pip install 'smtp-connector[server]'" in line, line
        assert "pip install '.[server]'" in line, line
        assert "sqlalchemy" in line
    assert list(tmp_path.iterdir()) == []  # no database was created


def test_a_postgresql_url_without_the_postgres_extra(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    line = one_error_line(run(["keys", "list", "--database-url", url], tmp_path, hiding("psycopg")))
    assert "`smtp-connector keys list` needs the postgres extra for a PostgreSQL database" in line
    assert "pip install 'smtp-connector[postgres]'" in line
    assert "pip install '.[postgres]'" in line and "psycopg" in line


# -- help ----------------------------------------------------------------------------------


def command_paths(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += command_paths(sub, (*path, name))
    return found


def test_group_listings_show_whole_descriptions(tmp_path: Path) -> None:
    """`smtp-connector --help` used to cut every description with "…" at 80 columns."""
    result = run(["--help"], tmp_path, {**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    listing = result.stdout.partition("Commands:")[2]
    assert "…" not in listing and "..." not in listing, listing
    summary = " ".join(listing.split())
    assert "send a real SignIn code email to it and show what arrived." in summary
    assert "print each step's time." in summary


@pytest.mark.parametrize("path", command_paths(main), ids=lambda p: " ".join(p) or "main")
def test_every_option_has_help_and_lists_its_choices(path: tuple[str, ...]) -> None:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    text = CliRunner().invoke(main, [*path, "--help"], terminal_width=80).output
    assert "…" not in text and "..." not in text.replace("COMMAND [ARGS]...", ""), text
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"
        if isinstance(param.type, click.Choice):
            for choice in param.type.choices:
                assert str(choice) in text, f"{param.opts[0]} does not list {choice!r}"


# -- databases that cannot be opened ---------------------------------------------------------


def test_a_database_that_cannot_be_opened_is_one_line_without_its_password(
    tmp_path: Path,
) -> None:
    """The newcomer's mistakes with the database URL (nothing listens on the port, a database
    or user that does not exist) end `serve`, `worker` and `db upgrade` with one line naming
    the database and the server's reason, never a driver traceback or the URL's password."""
    from cryptography.fernet import Fernet

    environ = {**os.environ, "SMTP_CONNECTOR_SECRET_KEY": Fernet.generate_key().decode()}
    with socket.socket() as closed:  # a port nothing listens on once this is closed
        closed.bind(("127.0.0.1", 0))
        free = closed.getsockname()[1]
    cases = {
        f"postgresql://postgres:pw-s3cret@127.0.0.1:{free}/x": "Connection refused",
        "postgresql://postgres:pw-s3cret@127.0.0.1:5432/smtpc_no_such_db": "does not exist",
        "postgresql://smtpc_no_such_role:pw-s3cret@127.0.0.1:5432/postgres": "does not exist",
    }
    commands = [
        [*command, "--database-url", url]
        for url in cases
        for command in (["serve", "--port", "0"], ["worker"], ["db", "upgrade"])
    ]
    for args, result in zip(commands, run_all(commands, tmp_path, environ), strict=True):
        shown = one_error_line(result)
        url = args[-1]
        assert "Cannot open the database postgresql+psycopg://" in shown, shown
        assert cases[url] in shown and "pw-s3cret" not in shown, shown
        assert url.split("@")[1] in shown, shown  # host, port and database, as given
