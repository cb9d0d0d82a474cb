"""`smtp-connector dkim-keygen`: writes the key, prints the DNS record, refuses bad input."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from signing_helpers import DkimKey, dkim_options, dns_stub, make_email, verify_all

from smtp_connector.cli import main
from smtp_connector.signing.dkim import (
    DkimSigner,
)

DOMAIN = "example.com"
FROM = "noreply@example.com"
CODE = "482913"
PASSWORD = "k3y-Passw0rd!"
HAS_NACL = importlib.util.find_spec("nacl") is not None
needs_nacl = pytest.mark.skipif(
    not HAS_NACL, reason="dkimpy's Ed25519 verifier needs pynacl (in the test extra)"
)
OPENSSL = shutil.which("openssl")


# --- CLI: dkim-keygen --------------------------------------------------------------------------


def _record_from_output(output: str) -> str:
    match = re.search(r"^\s*Value:\s*(v=DKIM1;.*)$", output, flags=re.MULTILINE)
    assert match, output
    return match.group(1).strip()


def test_dkim_keygen_writes_key_and_prints_record(tmp_path: Path) -> None:
    out = tmp_path / "s1.pem"
    result = CliRunner().invoke(
        main, ["dkim-keygen", "--selector", "s1", "--domain", DOMAIN, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "s1._domainkey.example.com" in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    record = _record_from_output(result.output)
    assert record.startswith("v=DKIM1; k=rsa; p=")
    assert "PRIVATE KEY" not in result.output
    # The written key and the printed record belong together: a signature verifies.
    key = DkimKey("s1", str(out), record)
    signed = DkimSigner([dkim_options(key)]).sign(make_email().as_bytes())
    assert verify_all(signed, dns_stub(key)) == [True]


@needs_nacl
def test_dkim_keygen_ed25519_json(tmp_path: Path) -> None:
    out = tmp_path / "ed.pem"
    args = ["dkim-keygen", "--selector", "ed1", "--domain", DOMAIN, "--algorithm", "ed25519"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["name"] == "ed1._domainkey.example.com"
    assert data["value"].startswith("v=DKIM1; k=ed25519; p=")
    assert data["config"]["dkim"]["privateKey"] == str(out)
    key = DkimKey("ed1", out.read_text(), data["value"])
    signed = DkimSigner([dkim_options(key)]).sign(make_email().as_bytes())
    assert verify_all(signed, dns_stub(key)) == [True]


def test_dkim_keygen_default_path_and_no_clobber(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["dkim-keygen", "--selector", "s1", "--domain", DOMAIN, "--bits", "1024"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    path = tmp_path / "s1.example.com.dkim.pem"
    original = path.read_text()
    again = runner.invoke(main, args)
    assert again.exit_code == 2 and "--force" in again.output
    assert path.read_text() == original
    forced = runner.invoke(main, [*args, "--force"])
    assert forced.exit_code == 0 and path.read_text() != original
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dkim_keygen_rejects_bad_domain(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["dkim-keygen", "--selector", "s1", "--domain", "not a domain",
         "--out", str(tmp_path / "k.pem")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "domainName" in result.output
    assert not (tmp_path / "k.pem").exists()
