"""A round trip through a real, strict MTA: Debian's postfix, started by this module as a private
instance (`postfix -c DIR start`, its own main.cf/master.cf, queue and Maildir in a temp dir, an
unprivileged port on 127.0.0.1) with the restrictions strict receivers use:
`smtpd_helo_required = yes` and `smtpd_helo_restrictions = reject_invalid_helo_hostname,
reject_non_fqdn_helo_hostname`. The connector's verification mail must land in the mailbox.

Skipped with the reason where postfix is not installed or this process is not root (postfix's
master starts as root and drops to `mail_owner`); with `CI=true` those are failures instead,
since `.ci/run` installs postfix.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from signing_helpers import DkimKey, dns_stub, verify_all
from smtp_servers import free_port

from smtp_connector import ConnectorError, SmtpConnector
from smtp_connector.delivery.network import is_fqdn
from smtp_connector.signing.dkim import generate_dkim_key

CODE = "482913"
MAILBOX = "user@example.org"
START_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 30.0
# Chroot off (a private instance has no chroot jail set up) and only the services a local
# delivery needs; the smtpd line carries the instance's own port.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
virtual   unix  - n n -     - virtual
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
"""
MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.postfix-test.example.net
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
relayhost =
biff = no
smtputf8_enable = yes
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
smtpd_helo_required = yes
smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = example.org
virtual_mailbox_base = {base}/mail
virtual_mailbox_maps = texthash:{base}/conf/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
"""


def _postfix_binary() -> str | None:
    return shutil.which("postfix") or next(
        (p for p in ("/usr/sbin/postfix", "/usr/local/sbin/postfix") if os.access(p, os.X_OK)),
        None,
    )


def _why_not() -> str | None:
    """Why a private postfix instance cannot run here, or None."""
    if _postfix_binary() is None:
        return "postfix is not installed (Debian: apt-get install postfix; .ci/run does it)"
    if os.geteuid() != 0:
        return "a postfix instance must be started as root (its master drops to mail_owner)"
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        return "the postfix user or postdrop group is missing (install the Debian package)"
    return None


@dataclass
class Postfix:
    base: Path
    port: int

    @property
    def log(self) -> str:
        path = self.base / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def delivered(self, message_id: str) -> bytes:
        """The message with `message_id` once it is in the Maildir (waits for delivery)."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        new = self.base / "mail" / "example.org" / "user" / "new"
        while time.monotonic() < deadline:
            for path in new.glob("*") if new.exists() else []:
                data = path.read_bytes()
                if f"Message-ID: {message_id}".encode() in data:
                    return data
            time.sleep(0.05)
        pytest.fail(f"{message_id} did not reach the mailbox; postfix log:\n{self.log[-3000:]}")


def _postfix(base: Path, *command: str) -> subprocess.CompletedProcess[bytes]:
    binary = _postfix_binary()
    assert binary is not None
    with open(base / "postfix-command.log", "ab") as out:  # the daemon keeps no pipe open
        return subprocess.run(
            [binary, "-c", str(base / "conf"), *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=START_TIMEOUT_S,
            check=False,
        )


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(4).startswith(b"220")
    except OSError:
        return False


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    reason = _why_not()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the postfix round trip must run in CI: {reason}")
        pytest.skip(reason)
    # Not pytest's tmp_path: its parents are 0700 root, which postfix's delivery agent (running
    # as the postfix user) could not traverse.
    base = Path(tempfile.mkdtemp(prefix="smtp-connector-postfix-"))
    base.chmod(0o755)
    user = pwd.getpwnam("postfix")
    for name in ("conf", "queue", "data", "mail"):
        (base / name).mkdir()
        if name in ("data", "mail"):  # written by postfix's daemons as mail_owner
            os.chown(base / name, user.pw_uid, user.pw_gid)
    port = free_port()
    conf = base / "conf"
    (conf / "main.cf").write_text(MAIN_CF.format(base=base, uid=user.pw_uid, gid=user.pw_gid))
    (conf / "master.cf").write_text(MASTER_CF.format(port=port))
    (conf / "vmailbox").write_text(f"{MAILBOX} example.org/user/\n")
    instance = Postfix(base, port)
    started = _postfix(base, "start")
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(port):
            if started.returncode != 0 or time.monotonic() > deadline:
                command_log = (base / "postfix-command.log").read_text(errors="replace")
                pytest.fail(f"postfix did not start:\n{command_log}\n{instance.log[-3000:]}")
            time.sleep(0.1)
        yield instance
    finally:
        _postfix(base, "stop")
        shutil.rmtree(base, ignore_errors=True)


def _config(postfix: Postfix, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": postfix.port,
        "fromEmail": "noreply@example.com",
        "connectionTimeout": 10_000,
        "greetingTimeout": 10_000,
        "socketTimeout": 10_000,
        "retry": {"attempts": 1},
        **extra,
    }


def parsed(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


async def test_verification_mail_lands_in_the_mailbox(postfix: Postfix) -> None:
    """Default EHLO (a FQDN or the address literal), DKIM-signed, through postfix's HELO
    restrictions into the Maildir, where the signature still verifies."""
    pem, record = generate_dkim_key("s1", "example.com", "rsa", 2048)
    dkim = {"domainName": "example.com", "keySelector": "s1", "privateKey": pem}
    async with SmtpConnector(_config(postfix, dkim=dkim)) as connector:
        result = await connector.send(MAILBOX, "SignIn", {"code": CODE})
    delivered = postfix.delivered(result.message_id)
    message = parsed(delivered)
    assert message["Delivered-To"] == MAILBOX  # written by postfix's virtual delivery agent
    assert CODE in message.get_body(("plain",)).get_content()
    assert message["Date"].endswith("+0000")
    assert verify_all(delivered, dns_stub(DkimKey("s1", pem, record))) == [True]
    # postfix's Received line starts with the HELO name it accepted.
    received = " ".join(message["Received"].split())
    helo = received.removeprefix("from ").split(" ", 1)[0]
    assert helo == "[127.0.0.1]" or is_fqdn(helo), received


async def test_non_latin_mail_with_long_names_lands_in_the_mailbox(postfix: Postfix) -> None:
    """Base64 text parts, a 1500-character From name and a recipient name that is one long
    word: every line within 998 octets, so postfix stores the message as sent."""
    from_name = "Ж" * 1500
    config = _config(postfix, fromName=from_name, defaultLocale="ru")
    to = '"' + "x" * 1200 + '" <' + MAILBOX + ">"
    async with SmtpConnector(config) as connector:
        result = await connector.send(to, "Register", {"code": CODE})
    message = parsed(postfix.delivered(result.message_id))
    (sender,) = message["From"].addresses
    assert "".join(sender.display_name.split()) == from_name
    (recipient,) = message["To"].addresses
    assert "".join(recipient.display_name.split()) == "x" * 1200
    plain = message.get_body(("plain",))
    assert plain["Content-Transfer-Encoding"] == "base64"
    assert CODE in plain.get_content()


async def test_a_bare_helo_name_is_refused(postfix: Postfix) -> None:
    """The control: this instance does enforce the restriction the default EHLO now passes
    (`EHLO vm` was the default before)."""
    async with SmtpConnector(_config(postfix, name="vm")) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send(MAILBOX, "SignIn", {"code": CODE})
    assert info.value.smtp_code == 504
    assert "need fully-qualified hostname" in info.value.message
