"""The CLI end to end: demo, render, send, verify, test, sink, exit codes and --json."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from service_support import cli
from smtp_servers import PASSWORD, USER, MakeServer, config_for, dead_port, free_port

from smtp_connector.cli import main


def write_config(tmp_path: Path, config: dict) -> str:
    path = tmp_path / "smtp.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_demo_sends_a_real_email() -> None:
    result = CliRunner().invoke(main, ["demo", "--json"])
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    assert outcome["codeInMessage"] is True
    assert outcome["code"] in outcome["text"]
    assert ("To", "new.user@example.org") in [tuple(h) for h in outcome["headers"]]


def test_demo_human_output() -> None:
    result = CliRunner().invoke(main, ["demo", "--locale", "es"])
    assert result.exit_code == 0, result.output
    assert "was found in the received message" in result.output


def test_render_writes_html(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"host": "smtp.example.com", "fromEmail": "a@example.com"})
    html = tmp_path / "out.html"
    result = CliRunner().invoke(
        main,
        [
            "render",
            "--config",
            config,
            "--usage",
            "Register",
            "--code",
            "424242",
            "--locale",
            "de",
            "--html",
            str(html),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "424242" in result.output
    assert "424242" in html.read_text()
    assert 'lang="de"' in html.read_text()


def test_send_and_json_output(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server()
    config = write_config(tmp_path, config_for(server))
    result = CliRunner().invoke(
        main, ["send", "--config", config, "--to", "u@example.org", "--code", "987654", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] is True and data["result"]["accepted"] == ["u@example.org"]
    assert b"987654" in server.messages[0].content


def test_send_failure_exit_code_and_json(
    make_server: MakeServer, tmp_path: Path, ca_pem: str
) -> None:
    server = make_server(mode="starttls", auth_required=True, users={USER: "right"})
    auth = {"user": USER, "pass": PASSWORD}
    config = write_config(tmp_path, config_for(server, tls={"ca": ca_pem}, auth=auth))
    result = CliRunner().invoke(
        main, ["send", "--config", config, "--to", "u@example.org", "--json"]
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["error"]["code"] == "auth_failed"
    assert data["error"]["smtpCode"] == 535
    assert PASSWORD not in result.output


def snake_keys(data: object) -> list[str]:
    """Every key of `data` (recursively) that is snake_case: the API's JSON has none."""
    if isinstance(data, dict):
        return [k for k in data if "_" in k] + [k for v in data.values() for k in snake_keys(v)]
    if isinstance(data, list):
        return [k for item in data for k in snake_keys(item)]
    return []


def test_json_output_is_camel_case_like_the_api(
    make_server: MakeServer, tmp_path: Path, ca_pem: str
) -> None:
    """`send --json` printed `smtp_code`, `message_id` … where the HTTP API says `smtpCode`."""
    server = make_server(mode="starttls", auth_required=True, users={USER: "right"})
    auth = {"user": USER, "pass": PASSWORD}
    config = write_config(tmp_path, config_for(server, tls={"ca": ca_pem}, auth=auth))
    failed = cli("send", "--config", config, "--to", "u@example.org", "--json", check=False)
    assert failed.returncode == 1
    error = json.loads(failed.stdout)["error"]
    assert snake_keys(error) == []
    assert (error["code"], error["smtpCode"], error["enhancedStatus"]) == (
        "auth_failed",
        535,
        "5.7.8",
    )
    assert {"serverMessage", "retryAfter", "retryable", "stage"} <= set(error)

    plain = write_config(tmp_path, config_for(make_server()))
    result = CliRunner().invoke(
        main, ["send", "--config", plain, "--to", "u@example.org", "--json"]
    )
    sent = json.loads(result.stdout)
    assert snake_keys(sent) == [] and sent["result"]["messageId"].startswith("<")
    assert {"smtpCode", "usageType", "accepted"} <= set(sent["result"])
    demo = json.loads(CliRunner().invoke(main, ["demo", "--json"]).stdout)
    assert snake_keys(demo) == [] and demo["codeInMessage"] is True


def test_an_auth_failure_gives_its_advice_once(
    make_server: MakeServer, tmp_path: Path, ca_pem: str
) -> None:
    """The message already says to check the username and password; the CLI added a `hint:`
    line saying it again."""
    server = make_server(mode="starttls", auth_required=True, users={USER: "right"})
    auth = {"user": USER, "pass": PASSWORD}
    config = write_config(tmp_path, config_for(server, tls={"ca": ca_pem}, auth=auth))
    result = cli("send", "--config", config, "--to", "u@example.org", check=False)
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: [auth_failed]") and "535" in line
    assert line.count("app password") == 1 and "auth.user" in line
    assert PASSWORD not in result.stderr


def test_a_bare_connection_failure_still_gets_a_hint(tmp_path: Path) -> None:
    config = write_config(tmp_path, config_for(dead_port()))
    result = CliRunner().invoke(main, ["send", "--config", config, "--to", "u@example.org"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: [") and len(lines) == 2
    assert lines[1] == "hint: check host and port, and that outbound SMTP is not blocked"


def test_bad_config_exit_code(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"host": "h", "port": 70000, "fromEmail": "a@example.com"})
    result = CliRunner().invoke(main, ["send", "--config", config, "--to", "u@example.org"])
    assert result.exit_code == 2
    assert "port" in result.output


def test_password_from_environment(make_server: MakeServer, tmp_path: Path, ca_pem: str) -> None:
    server = make_server(mode="starttls", auth_required=True, users={USER: PASSWORD})
    auth = {"user": USER, "pass": "${TEST_SMTP_PASS}"}
    config = write_config(tmp_path, config_for(server, tls={"ca": ca_pem}, auth=auth))
    env = {"TEST_SMTP_PASS": PASSWORD}
    result = CliRunner(env=env).invoke(main, ["test", "--config", config, "--to", "a@example.org"])
    assert result.exit_code == 0, result.output
    assert b"000000" in server.messages[0].content


def test_verify_prints_steps(make_server: MakeServer, tmp_path: Path, ca_pem: str) -> None:
    server = make_server(mode="starttls", auth_required=True, users={USER: PASSWORD})
    config = write_config(
        tmp_path, config_for(server, tls={"ca": ca_pem}, auth={"user": USER, "pass": PASSWORD})
    )
    result = CliRunner().invoke(main, ["verify", "--config", config])
    assert result.exit_code == 0, result.output
    for step in ("dns", "connect", "greeting", "starttls", "auth"):
        assert step in result.output
    assert server.messages == []


def test_bulk_send_from_csv(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server()
    config = write_config(tmp_path, config_for(server))
    rows = ["to,code"] + [f"user{i}@example.org,{100000 + i}" for i in range(25)]
    (tmp_path / "bulk.csv").write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(
        main, ["send", "--config", config, "--bulk", str(tmp_path / "bulk.csv"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["sent"] == 25
    assert len(server.messages) == 25


def test_sink_prints_received_messages(tmp_path: Path) -> None:
    port = free_port()
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smtp_connector",
            "sink",
            "--port",
            str(port),
            "--max-messages",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert sink.stdout is not None
        assert "listening" in sink.stdout.readline()
        config = write_config(tmp_path, config_for(port))
        deadline = time.monotonic() + 30  # the sink prints what it got; room for a slow start
        result = CliRunner().invoke(
            main, ["send", "--config", config, "--to", "z@example.org", "--code", "556677"]
        )
        assert result.exit_code == 0, result.output
        output, _ = sink.communicate(timeout=max(deadline - time.monotonic(), 1))
    finally:
        sink.kill()
    assert "556677" in output
    assert "z@example.org" in output


def test_sink_on_a_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sink = subprocess.run(
            # -X dev shows a ResourceWarning for anything left open (aiosmtpd's own loop did)
            [sys.executable, "-X", "dev", "-m", "smtp_connector", "sink", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert sink.returncode == 2
    assert sink.stdout == ""
    assert sink.stderr.count("\n") == 1, sink.stderr
    assert f"127.0.0.1:{port}" in sink.stderr and "already in use" in sink.stderr
    assert "--port 0" in sink.stderr


def _render(tmp_path: Path, *args: str) -> dict:
    config = write_config(tmp_path, {"host": "smtp.example.com", "fromEmail": "a@acme.example.com"})
    result = CliRunner().invoke(main, ["render", "--config", config, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_render_previews_invitations_with_and_without_org_and_inviter(tmp_path: Path) -> None:
    base = ["--usage", "OrganizationInvitation", "--app-name", "Acme"]
    alone = _render(tmp_path, *base)
    assert "You have been invited to join Acme." in alone["text"]
    assert "on Acme" not in alone["text"]
    assert "invitation/accept" in alone["html"]  # an example link, since invitations have one
    assert "123456" not in alone["text"]  # and no code
    full = _render(tmp_path, *base, "--org", "Umbrella", "--inviter", "Ann Lee")
    assert "Ann Lee invited you to join Umbrella on Acme." in full["text"]
    assert "Umbrella" in full["subject"]
    org_only = _render(tmp_path, *base, "--org", "Umbrella", "--locale", "de")
    assert "Umbrella" in org_only["text"] and "Acme" in org_only["text"]


def test_render_names_a_broken_template_and_exits_3(tmp_path: Path) -> None:
    template = {"usageType": "SignIn", "locale": "es", "subject": "s", "content": "a\n{{ code }"}
    config = write_config(
        tmp_path, {"host": "h.example.com", "fromEmail": "a@b.example.com", "templates": [template]}
    )
    result = CliRunner().invoke(main, ["render", "--config", config, "--usage", "Register"])
    assert result.exit_code == 3
    assert "templates[0]" in result.stderr and "'SignIn/es'" in result.stderr
    assert "line 2" in result.stderr


def test_commands_print_template_warnings_as_lines(tmp_path: Path) -> None:
    template = {"usageType": "Regsiter", "subject": "s", "content": "{{ code }}"}
    config = write_config(
        tmp_path, {"host": "h.example.com", "fromEmail": "a@b.example.com", "templates": [template]}
    )
    result = CliRunner().invoke(main, ["render", "--config", config, "--usage", "Register"])
    assert result.exit_code == 0
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "did you mean 'Register'?" in warning
