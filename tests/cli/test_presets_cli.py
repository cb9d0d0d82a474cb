"""`smtp-connector presets` and `init`."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_connector.cli import main
from smtp_connector.presets import (
    list_presets,
)

# ------------------------------------------------------------------------------------------
# CLI: presets and init
# ------------------------------------------------------------------------------------------


def test_presets_table() -> None:
    result = CliRunner().invoke(main, ["presets"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "HOST", "PORT", "TLS", "USERNAME"]
    sendgrid = next(line for line in lines if line.startswith("sendgrid "))
    assert sendgrid.split()[:4] == ["sendgrid", "smtp.sendgrid.net", "587", "STARTTLS"]
    assert "literal `apikey`" in sendgrid
    assert all(any(line.startswith(f"{n} ") for line in lines) for n in list_presets())


def test_presets_json() -> None:
    result = CliRunner().invoke(main, ["presets", "--json"])
    rows = json.loads(result.output)
    assert [row["name"] for row in rows] == list_presets()
    gmail = next(row for row in rows if row["name"] == "gmail")
    assert gmail == {
        "name": "gmail",
        "host": "smtp.gmail.com",
        "port": "465",
        "tls": "TLS",
        "username": "full email address",
    }


def test_presets_detail_shows_quirks() -> None:
    result = CliRunner().invoke(main, ["presets", "Google Mail"])
    assert result.exit_code == 0, result.output
    assert "Gmail (gmail)" in result.output
    assert "465 implicit TLS, secure: true (default)" in result.output
    assert "from_rewritten" in result.output and "app_password_required" in result.output
    assert "https://mail.google.com/" in result.output
    brevo = CliRunner().invoke(main, ["presets", "brevo"])
    assert "Unverified (secondary sources only): username, password" in brevo.output
    aliyun = CliRunner().invoke(main, ["presets", "aliyun"])
    assert "smtpdm-eu-central-1.aliyuncs.com" in aliyun.output


def test_presets_detail_json() -> None:
    result = CliRunner().invoke(main, ["presets", "mailgun-eu", "--json"])
    data = json.loads(result.output)
    assert (data["name"], data["impliedRegion"]) == ("mailgun", "eu")
    assert {p["port"] for p in data["ports"]} == {25, 465, 587, 2525}


def test_presets_unknown_name_exits_with_config_error() -> None:
    result = CliRunner().invoke(main, ["presets", "gmial"])
    assert result.exit_code == 2
    assert "Did you mean gmail" in result.output


def test_init_for_sendgrid_and_aliyun(tmp_path: Path) -> None:
    runner = CliRunner()
    sendgrid = tmp_path / "sendgrid.json"
    args = ["init", "--preset", "sendgrid", "--from", "no-reply@example.com", "--no-input"]
    result = runner.invoke(main, [*args, "-o", str(sendgrid)])
    assert result.exit_code == 0, result.output
    data = json.loads(sendgrid.read_text())
    assert data["auth"] == {"user": "apikey", "pass": "${SMTP_PASSWORD}"}
    assert (data["host"], data["port"], data["requireTLS"]) == ("smtp.sendgrid.net", 587, True)

    aliyun = tmp_path / "aliyun.json"
    args = ["init", "--preset", "aliyun", "--user", "noreply@mail.example.com", "--no-input"]
    result = runner.invoke(main, [*args, "--region", "singapore", "-o", str(aliyun)])
    assert result.exit_code == 0, result.output
    data = json.loads(aliyun.read_text())
    assert data["host"] == "smtpdm-ap-southeast-1.aliyuncs.com"
    assert data["fromEmail"] == data["auth"]["user"] == "noreply@mail.example.com"


def _read_until(fd: int, wanted: str, seen: list[str]) -> None:
    """Read the terminal's output until `wanted` shows up (the deadline only guards a hang)."""
    deadline = time.monotonic() + 60
    while wanted not in "".join(seen):
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            pytest.fail(f"no {wanted!r} on the terminal; got {''.join(seen)!r}")
        try:
            seen.append(os.read(fd, 4096).decode("utf-8", "replace"))
        except OSError:  # EIO: the child closed the terminal
            pytest.fail(f"terminal closed before {wanted!r}; got {''.join(seen)!r}")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_init_prompts_for_missing_values_on_a_terminal(tmp_path: Path) -> None:
    import pty

    output = tmp_path / "zoho.json"
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "smtp_connector", "init", "--preset", "zoho", "-o", str(output)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(slave)
    seen: list[str] = []
    try:
        for prompt, answer in [("address", "me@zohomail.eu"), ("From", ""), ("Region", "")]:
            _read_until(master, prompt, seen)
            os.write(master, answer.encode() + b"\n")
        _read_until(master, "Wrote", seen)
        assert child.wait(timeout=60) == 0, "".join(seen)
    finally:
        child.kill()
        os.close(master)
    data = json.loads(output.read_text())
    assert data["host"] == "smtp.zoho.eu"  # the region offered from the mailbox domain
    assert data["auth"]["user"] == data["fromEmail"] == "me@zohomail.eu"


def test_init_without_a_terminal_never_prompts(tmp_path: Path) -> None:
    """No --no-input, but stdin is not a terminal (CI, a pipe): fail naming the flag at once."""
    output = tmp_path / "zoho.json"
    child = subprocess.run(
        [sys.executable, "-m", "smtp_connector", "init", "--preset", "zoho", "-o", str(output)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 2
    assert child.stdout == ""
    assert child.stderr.count("\n") == 1 and "Missing --user" in child.stderr, child.stderr
    assert "Traceback" not in child.stderr and "Aborted" not in child.stderr
    assert not output.exists()
    flags = ["--user", "me@zohomail.eu", "--from", "me@zohomail.eu", "--region", "eu"]
    done = CliRunner().invoke(main, ["init", "--preset", "zoho", *flags, "-o", str(output)])
    assert done.exit_code == 0, done.output
    assert json.loads(output.read_text())["host"] == "smtp.zoho.eu"


def test_init_refuses_guard_rail_errors_and_overwrites(tmp_path: Path) -> None:
    runner = CliRunner()
    output = tmp_path / "aliyun.json"
    args = ["init", "--preset", "aliyun", "--user", "a@mail.example.com", "--no-input"]
    bad = runner.invoke(main, [*args, "--from", "b@example.com", "-o", str(output)])
    assert bad.exit_code == 2 and "exactly the SMTP username" in bad.output
    assert not output.exists()
    assert runner.invoke(main, [*args, "-o", str(output)]).exit_code == 0
    again = runner.invoke(main, [*args, "-o", str(output)])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(main, [*args, "-o", str(output), "--force"]).exit_code == 0


def test_init_without_needed_values_fails_without_prompting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["init", "--preset", "ses", "--no-input", "-o", str(tmp_path / "x.json")]
    )
    assert result.exit_code == 2
    assert "--from" in result.output


def test_init_outlook_writes_oauth2_references(tmp_path: Path) -> None:
    output = tmp_path / "outlook.json"
    args = ["init", "--preset", "outlook", "--user", "me@outlook.com", "--no-input"]
    result = CliRunner().invoke(main, [*args, "-o", str(output)])
    assert result.exit_code == 0, result.output
    auth = json.loads(output.read_text())["auth"]
    assert auth["type"] == "oauth2"
    assert auth["refreshToken"] == "${SMTP_REFRESH_TOKEN}"
    assert auth["clientId"] == "${SMTP_CLIENT_ID}"
    assert auth["accessUrl"].startswith("https://login.microsoftonline.com/")


def test_init_rejects_a_bad_env_name(tmp_path: Path) -> None:
    args = ["init", "--preset", "gmail", "--user", "me@gmail.com", "--no-input"]
    result = CliRunner().invoke(
        main, [*args, "--password-env", "NOT-VALID", "-o", str(tmp_path / "x.json")]
    )
    assert result.exit_code == 2
    assert "environment variable name" in result.output
