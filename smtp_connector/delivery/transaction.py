"""A mail transaction's pieces: the queued message (`Job`), its envelope, its dot-stuffed
content, the reading of the envelope's replies, and the lock-step transaction.

Pipelined sessions chain transactions (delivery/chain.py); a server without PIPELINING gets
`MailTransaction`, one command at a time. `stage` names the command in flight, so a failure
says where it happened (and the caller knows whether the server may already hold the message).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiosmtplib

from ..errors import Cause, ConnectorError, ErrorCode
from .checkpoint import Checkpoint, reach_message_data
from .pipelining import PipeliningProtocol, Reply

_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")


@dataclass
class Delivery:
    """What the server answered for one message."""

    accepted: list[str]
    rejected: dict[str, tuple[int, str]]
    response: str
    smtp_code: int
    pipelined: bool = False


@dataclass(eq=False, slots=True)
class Job:
    """One message waiting for (or on) a connection; the sender settles `future`."""

    sender: str
    recipients: list[str]
    data: bytes
    smtputf8: bool
    deadline: float  # time.monotonic() value: the send's retry.deadline
    checkpoint: Checkpoint | None  # the send's before-DATA checkpoint, taken when queued
    future: asyncio.Future[Delivery]
    retried: bool = False  # already moved once off a connection found dead before its content
    reused: bool = False  # went out on a session that had carried an earlier message
    content_sent: bool = False  # past its checkpoint: from here on the server may hold it
    crlf_only: bool = False  # `data` is known to end every line with CRLF (the composer's)
    payload: bytes | None = None  # `data` dot-stuffed already (a shape's wire skeleton)


def envelope(smtp: aiosmtplib.SMTP, job: Job, name: str) -> tuple[bytes, bytes]:
    """(MAIL + RCPTs + DATA as one burst, the dot-stuffed content) for a pipelined session."""
    payload = job.payload if job.payload is not None else dot_stuff(job.data, job.crlf_only)
    if not job.smtputf8 and len(job.recipients) == 1:  # the common case, the same bytes
        # `supports_extension("size")` without its call: the keys are lower-cased EHLO keywords
        size = f" SIZE={len(payload)}" if "size" in smtp.esmtp_extensions else ""
        text = f"MAIL FROM:<{job.sender}>{size}\r\nRCPT TO:<{job.recipients[0]}>\r\nDATA\r\n"
        return text.encode("ascii"), payload
    require_smtputf8(smtp, job.smtputf8, name)
    options = _mail_options(smtp, len(payload), job.smtputf8)
    lines = [_command("MAIL FROM:", job.sender, options)]
    lines += [f"RCPT TO:<{rcpt}>" for rcpt in job.recipients]
    lines.append("DATA\r\n")
    burst = "\r\n".join(lines).encode("utf-8" if job.smtputf8 else "ascii")
    return burst, payload


def require_smtputf8(smtp: aiosmtplib.SMTP, smtputf8: bool, name: str) -> None:
    """A non-ASCII local part needs the server's SMTPUTF8; refuse before any command."""
    if smtputf8 and not smtp.supports_extension("smtputf8"):
        raise ConnectorError(
            ErrorCode.INVALID_RECIPIENT,
            f"{name} does not support SMTPUTF8, which this address needs (a non-ASCII local part).",
            server=name,
            retryable=False,
            stage="mail",
            cause=Cause.BAD_ADDRESS,
            reason="the server does not support SMTPUTF8 (a non-ASCII local part)",
        )


def one_accepted(replies: list[Reply]) -> bool:
    """Whether the last three replies are the common envelope: MAIL 250, its one RCPT 250 or
    251, DATA 354 (the one recipient accepted, nothing to raise). The pipelined chain asks it
    of a burst's replies directly, without `read_envelope`."""
    return replies[-1].code == 354 and replies[-3].code == 250 and replies[-2].code in (250, 251)


def read_envelope(job: Job, replies: list[Reply]) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """Accepted and rejected recipients from MAIL/RCPT/DATA replies; raises aiosmtplib's
    errors (sender refused, all recipients refused, DATA refused) like the lock-step path."""
    if len(replies) == 3 and one_accepted(replies):  # the common case
        return list(job.recipients), {}  # one recipient, accepted
    mail_reply, data_reply = replies[0], replies[-1]
    rcpt_replies = replies[1:-1]
    if mail_reply.code != 250:
        raise aiosmtplib.SMTPSenderRefused(mail_reply.code, mail_reply.message, job.sender)
    accepted, rejected = _split_recipients(job.recipients, rcpt_replies)
    _raise_if_all_rejected(job.recipients, rejected)
    if data_reply.code != 354:
        raise aiosmtplib.SMTPDataError(data_reply.code, data_reply.message)
    return accepted, rejected


class MailTransaction:
    """Deliver one message over `smtp` lock-step (no PIPELINING); each reply waits at most
    `reply_timeout()` seconds."""

    def __init__(
        self, smtp: aiosmtplib.SMTP, name: str, reply_timeout: Callable[[], float]
    ) -> None:
        self._smtp = smtp
        self._name = name
        self._reply_timeout = reply_timeout
        self.stage = "mail"

    async def run(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        smtputf8: bool,
        checkpoint: Checkpoint | None,
    ) -> Delivery:
        smtp = self._smtp
        require_smtputf8(smtp, smtputf8, self._name)
        payload = dot_stuff(data)
        options = _mail_options(smtp, len(payload), smtputf8)
        enc = "utf-8" if smtputf8 else "ascii"
        self.stage = "mail"
        await smtp.mail(sender, options=options, encoding=enc, timeout=self._reply_timeout())
        self.stage = "rcpt"
        rejected: dict[str, tuple[int, str]] = {}
        for rcpt in recipients:
            try:
                await smtp.rcpt(rcpt, encoding=enc, timeout=self._reply_timeout())
            except aiosmtplib.SMTPRecipientRefused as exc:
                rejected[rcpt] = (exc.code, exc.message)
        _raise_if_all_rejected(recipients, rejected)
        accepted = [r for r in recipients if r not in rejected]
        self.stage = "data"
        start = await smtp.execute_command(b"DATA", timeout=self._reply_timeout())
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        await reach_message_data(self._name, checkpoint)  # failing: drop, server is in DATA
        self.stage = "after_data"
        protocol = self._smtp.protocol
        assert isinstance(protocol, PipeliningProtocol)
        deadline = time.monotonic() + self._reply_timeout()
        (final,) = await protocol.exchange(payload, 1, deadline)
        if final.code != 250:
            self.stage = "data"
            raise aiosmtplib.SMTPDataError(final.code, final.message)
        return Delivery(accepted, rejected, final.message, final.code, False)


def _command(verb: str, address: str, options: list[str]) -> str:
    return " ".join([f"{verb}<{address}>", *options])


def _mail_options(smtp: aiosmtplib.SMTP, size: int, smtputf8: bool) -> list[str]:
    options = []
    if smtp.supports_extension("size"):
        options.append(f"SIZE={size}")
    if smtputf8:
        options.append("SMTPUTF8")
        if smtp.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
    return options


def dot_stuff(data: bytes, crlf_only: bool = False) -> bytes:
    r"""RFC 5321 §4.5.2 transparency plus the terminating `.`.

    Bare CR and bare LF become CRLF first (as aiosmtplib's own `data()` does): a server that
    takes a bare CR or LF as a line end would otherwise read `\r.\r\n` or `\n.\r\n` as the end
    of the message and the rest as new commands (SMTP smuggling). `crlf_only`: the caller
    knows there is none (the composer's own bytes), which saves three scans of the message."""
    if not crlf_only:
        crlf = data.count(b"\r\n")
        if data.count(b"\r") != crlf or data.count(b"\n") != crlf:
            data = _LINE_END.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.find(b"\n.") != -1:  # every line but the first starts after an LF now
        data = data.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    return data + b".\r\n"


def _split_recipients(
    recipients: list[str], replies: list[Reply]
) -> tuple[list[str], dict[str, tuple[int, str]]]:
    accepted: list[str] = []
    rejected: dict[str, tuple[int, str]] = {}
    for rcpt, reply in zip(recipients, replies, strict=True):
        if reply.code in (250, 251):
            accepted.append(rcpt)
        else:
            rejected[rcpt] = (reply.code, reply.message)
    return accepted, rejected


def _raise_if_all_rejected(recipients: list[str], rejected: dict[str, tuple[int, str]]) -> None:
    if rejected and len(rejected) == len(recipients):
        refused = [aiosmtplib.SMTPRecipientRefused(c, m, r) for r, (c, m) in rejected.items()]
        raise aiosmtplib.SMTPRecipientsRefused(refused)
