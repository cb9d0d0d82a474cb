"""The service walkthroughs run as written (issue 23, item 7; issue 25): README's short one
and docs/service.md's whole one. The block between the `walkthrough` markers is taken from the
page and run with bash (`-euo pipefail`, every curl with `-f`) against a real `smtp-connector
sink` and a real `smtp-connector serve` started the way the page's two terminals start them;
only the two port numbers are swapped for free ones. README's sink must print the direct send;
docs/service.md's the check's test mail, the direct send and the queued one.
(tests/docs/test_examples.py counts these blocks as run here.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import env_with, start_serve

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
SERVICE_PAGE = ROOT / "docs" / "service.md"
BIN = Path(sys.executable).parent


def walkthrough(page: Path) -> tuple[str, str, str]:
    """(the block, the sink's command line, the serve command line) as the page has them."""
    text = page.read_text()
    block = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->")[0]
    script = block.strip().removeprefix("```sh").removesuffix("```")
    terminals = re.search(r"```sh\n(smtp-connector sink [^\n]*)\n([^\n]*serve[^\n]*)\n```", text)
    assert terminals, "the two-terminal block before the walkthrough is gone"
    return script, terminals.group(1), terminals.group(2)


def run_walkthrough(page: Path, tmp_path: Path, messages: int) -> tuple[str, str, str]:
    """(what the walkthrough printed, what the sink printed, serve's port) after the page's
    walkthrough ran against a sink that exits after `messages` messages."""
    script, sink_line, serve_line = walkthrough(page)
    policy = re.match(r"SMTP_CONNECTOR_NETWORK_POLICY=(\S+) smtp-connector serve$", serve_line)
    assert policy, serve_line
    assert sink_line == "smtp-connector sink --port 1025"
    env = env_with(SMTP_CONNECTOR_NETWORK_POLICY=policy.group(1))
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    sink = subprocess.Popen(
        [str(BIN / "smtp-connector"), "sink", "--port", "0", "--max-messages", str(messages)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        assert sink.stdout is not None
        listening = sink.stdout.readline()
        sink_port = re.search(r":(\d+) ", listening)
        assert sink_port, listening
        database = f"sqlite:///{tmp_path / 'smtp-connector.db'}"  # serve's default, in cwd
        served = start_serve(database, tmp_path / "serve.log", env=env)
        try:
            serve_port = served.base_url.rsplit(":", 1)[1]
            runnable = script.replace("127.0.0.1:8025", f"127.0.0.1:{serve_port}")
            runnable = runnable.replace('"port": 1025', f'"port": {sink_port.group(1)}')
            assert runnable != script
            ran = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", runnable], cwd=tmp_path, env=env,
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
        finally:
            served.stop()
        assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}\n{served.log.read_text()}"
        out, _ = sink.communicate(timeout=20)
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    return ran.stdout, out, serve_port


def test_the_readme_walkthrough_runs(tmp_path: Path) -> None:
    printed, out, _ = run_walkthrough(README, tmp_path, messages=1)
    assert printed.replace(" ", "").count('"status":"sent"') == 1
    assert out.count("--- message for") == 1, out
    assert "--- message for ana@example.org from no-reply@shop.example.com" in out
    assert "123456" in out
    assert len(walkthrough(README)[0].strip().splitlines()) <= 12  # README's stays short


def test_the_service_page_walkthrough_runs(tmp_path: Path) -> None:
    stdout, out, serve_port = run_walkthrough(SERVICE_PAGE, tmp_path, messages=3)
    printed = stdout.replace(" ", "")
    assert '"ok":true' in printed and '"enqueue":true' in printed  # the check, the PATCH
    assert printed.count('"status":"sent"') == 2 and '"warnings":[]' in printed
    assert stdout.rstrip().endswith(f"The admin page: http://127.0.0.1:{serve_port}/ (paste "
                                    "the key to sign in)")  # fmt: skip
    assert out.count("--- message for") == 3, out
    assert "--- message for ops@shop.example.com from no-reply@shop.example.com" in out
    assert "123456" in out and "654321" in out
