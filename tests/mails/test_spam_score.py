"""SpamAssassin's verdict on the shipped mails, scored as a receiving mail system scores them.

Every shipped usage type in en, de, zh-CN and ar goes through the real connector (rendered,
composed and DKIM-signed) to a real aiosmtpd server. The bytes that server received get the
trace headers a receiving MX adds when a sender delivers to it directly (Return-Path; Received
from the EHLO name the connector sent, at a public address: the strictest case, where
SpamAssassin's "direct to MX" rules apply, and no trusted relay subtracts points). Debian's
SpamAssassin then scores them all in one run: local tests only (`-L`: no DNS, no network), the
rules the Debian package ships in /usr/share/spamassassin (not whatever `sa-update` last
fetched), no Bayes and no auto-welcomelist, so the verdict is the same on every machine.

Each mail must score at most 0.1, with no positive points hidden by negative ones, and fire no
HTML_*, STY_* or URI_* rule except HTML_MESSAGE ("HTML included in message", 0.001: every mail
with an HTML part fires it). A canary, the hidden preheader the shipped layout used to have,
goes through the same run and must be caught, so a SpamAssassin that loaded no rules cannot
pass.

Skipped with the reason where spamassassin is not installed; with CI=true that is a failure
instead, since `.ci/run` installs it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from mail_samples import USAGE_TYPES, sample_payload
from service_support import in_ci
from signing_helpers import DkimKey, dns_stub, verify_all
from smtp_servers import TestServer

from smtp_connector import SmtpConnector, UsageType
from smtp_connector.signing.dkim import generate_dkim_key

LOCALES = ("en", "de", "zh-CN", "ar")
MAX_SCORE = 0.1
WATCHED = re.compile(r"^(HTML|STY|URI)_")
ANY_HTML_PART = {"HTML_MESSAGE"}  # informational: the mail has an HTML part
RULES = Path("/usr/share/spamassassin")  # the rules the Debian package ships
PLUGINS = Path("/etc/spamassassin")  # its *.pre files, which load the plugins the rules use
SENDER = "mail.example.com"  # the EHLO name and the reverse DNS of the sending host
# Public, so SpamAssassin counts the connection as from outside (a loopback or private peer
# would be a trusted relay, and ALL_TRUSTED would take a point off every mail).
SENDER_IP = "93.184.216.34"
RECIPIENT = "user@example.org"
# Only SpamAssassin's own scoring: no learning, no history, and the rule names and scores in a
# header of each scored message (the report template's _TESTSSCORES_ tag).
PREFS = """\
use_bayes 0
bayes_auto_learn 0
use_auto_welcomelist 0
use_txrep 0
report_safe 0
add_header all Tests _TESTSSCORES(,)_
"""
# What the shipped layout had until it failed this test: text coloured like the background.
CANARY = {
    "usageType": "HiddenPreheader",
    "subject": "{{ code }} is your Acme sign-in code",
    "textContent": "Your sign-in code: {{ code }}",
    "htmlContent": (
        '<body style="background-color:#f4f5f7;"><div style="display:none;max-height:0;'
        'overflow:hidden;opacity:0;font-size:1px;color:#f4f5f7;">Use {{ code }} to sign in.'
        "</div><p>Your sign-in code: <b>{{ code }}</b></p></body>"
    ),
}


@dataclass(frozen=True)
class Verdict:
    score: float  # SpamAssassin's total, from X-Spam-Status (one decimal)
    rules: dict[str, float]  # every rule that fired, with its points

    @property
    def points(self) -> float:
        """The points added, before any rule subtracts some."""
        return sum(points for points in self.rules.values() if points > 0)

    def __str__(self) -> str:
        fired = ", ".join(f"{rule}={points:g}" for rule, points in sorted(self.rules.items()))
        return f"score {self.score:g} ({fired or 'no rule'})"


def spamassassin() -> str:
    """The spamassassin program, or a skip (a failure on CI) that says what to install."""
    found = shutil.which("spamassassin")
    if found is not None and RULES.is_dir() and any(PLUGINS.glob("*.pre")):
        return found
    missing = (
        f"{RULES} or the *.pre files in {PLUGINS} are missing"
        if found
        else "spamassassin is not installed"
    )
    reason = f"{missing} (DEBIAN_FRONTEND=noninteractive apt-get install -y spamassassin)"
    if in_ci():
        pytest.fail(f"SpamAssassin is required on CI: {reason}")
    pytest.skip(reason)


async def send_all(server: TestServer, key: DkimKey) -> dict[str, bytes]:
    """Every shipped usage type in LOCALES, and the canary, sent through the connector: the
    bytes the server received, keyed by "<usage type>/<locale>"."""
    config: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "name": SENDER,
        "fromEmail": "noreply@example.com",
        "fromName": "Acme",
        "dkim": {"domainName": "example.com", "keySelector": key.selector, "privateKey": key.pem},
        "templates": [CANARY],
    }
    names = []
    async with SmtpConnector(config) as connector:
        for locale in LOCALES:
            for usage in USAGE_TYPES:
                await connector.send(RECIPIENT, usage, sample_payload(usage), locale)
                names.append(f"{usage.value}/{locale}")
        await connector.send(RECIPIENT, CANARY["usageType"], sample_payload(UsageType.SIGN_IN))
        names.append("canary")
    return dict(zip(names, (message.content for message in server.messages), strict=True))


def as_received(wire: bytes, ehlo: str) -> bytes:
    """The message as the receiving MX stores it: its trace headers on top of the wire bytes."""
    date = message_from_bytes(wire, policy=policy.compat32)["Date"]
    trace = (
        f"Return-Path: <noreply@example.com>\r\n"
        f"Received: from {ehlo} ({SENDER} [{SENDER_IP}])\r\n"
        f"\tby mx.example.org (Postfix) with ESMTPS id 4XyZ1a2B3c\r\n"
        f"\tfor <{RECIPIENT}>; {date}\r\n"
    )
    return trace.encode() + wire


def score_all(program: str, messages: dict[str, bytes], folder: Path) -> dict[str, Verdict]:
    """One spamassassin run over every message (it takes a second or two to start)."""
    site = folder / "site"
    site.mkdir()
    for pre in PLUGINS.glob("*.pre"):  # the plugins, without the machine's local.cf
        (site / pre.name).symlink_to(pre)
    prefs = folder / "user_prefs"
    prefs.write_text(PREFS)
    paths = []
    for index, data in enumerate(messages.values()):
        paths.append(folder / f"{index:02d}.eml")
        paths[-1].write_bytes(data)
    command = [program, "-L", "-x", "-C", str(RULES), "--siteconfigpath", str(site)]
    done = subprocess.run(
        [*command, "-p", str(prefs), *map(str, paths)], capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    scored = re.split(rb"(?m)^(?=X-Spam-Checker-Version: )", done.stdout)[1:]
    assert len(scored) == len(messages), done.stderr.decode(errors="replace")[-2000:]
    return dict(zip(messages, map(verdict, scored), strict=True))


def verdict(scored: bytes) -> Verdict:
    headers = message_from_bytes(scored, policy=policy.compat32)
    status = re.search(r"score=(-?[\d.]+)", headers["X-Spam-Status"])
    tests = re.sub(r"\s+", "", headers["X-Spam-Tests"])
    assert status is not None, headers["X-Spam-Status"]
    rules = {}
    for item in tests.split(",") if tests != "none" else []:
        rule, _, points = item.partition("=")
        rules[rule] = float(points)
    return Verdict(float(status.group(1)), rules)


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Verdict]]:
    program = spamassassin()
    pem, record = generate_dkim_key("s1", "example.com")
    key = DkimKey("s1", pem, record)
    server = TestServer().start()
    try:
        wire = asyncio.run(send_all(server, key))
    finally:
        server.stop()
    (ehlo,) = set(server.handler.ehlo_names)
    for name, data in wire.items():
        assert verify_all(data, dns_stub(key)) == [True], f"{name}: DKIM does not verify"
    received = {name: as_received(data, ehlo) for name, data in wire.items()}
    yield score_all(program, received, tmp_path_factory.mktemp("spamassassin"))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("usage", USAGE_TYPES, ids=[u.value for u in USAGE_TYPES])
def test_shipped_mail_scores_nothing(
    verdicts: dict[str, Verdict], usage: UsageType, locale: str
) -> None:
    found = verdicts[f"{usage.value}/{locale}"]
    assert found.score <= MAX_SCORE and found.points <= MAX_SCORE, str(found)
    watched = sorted(rule for rule in found.rules if WATCHED.match(rule))
    assert set(watched) <= ANY_HTML_PART, str(found)


def test_the_old_hidden_preheader_is_caught(verdicts: dict[str, Verdict]) -> None:
    """The run scores for real: the layout's old preheader costs what it cost the shipped mails
    (SpamAssassin 4.0 with Debian's rules: HTML_FONT_LOW_CONTRAST 0.713, STY_INVIS_DIRECT 1)."""
    found = verdicts["canary"]
    assert {"HTML_FONT_LOW_CONTRAST", "STY_INVIS_DIRECT"} <= set(found.rules), str(found)
    assert found.score > MAX_SCORE
