"""`smtp-connector presets` and `init`."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert (data["name"], data["implied_region"]) == ("mailgun", "eu")
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


def test_init_prompts_for_missing_values(tmp_path: Path) -> None:
    output = tmp_path / "zoho.json"
    answers = "me@zohomail.eu\n\n\n"  # address, From (default), region (default from domain)
    result = CliRunner().invoke(
        main, ["init", "--preset", "zoho", "-o", str(output)], input=answers
    )
    assert result.exit_code == 0, result.output
    data = json.loads(output.read_text())
    assert data["host"] == "smtp.zoho.eu"
    assert data["auth"]["user"] == data["fromEmail"] == "me@zohomail.eu"


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
