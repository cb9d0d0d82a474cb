"""One mail transaction on an open session: MAIL, RCPT, DATA and the message.

With PIPELINING (RFC 2920) MAIL, every RCPT and DATA leave in one write, so a message costs two
round trips instead of three-plus-one-per-recipient; without it the commands go lock-step.
`stage` names the command in flight, so a failure says where it happened (and the caller knows
whether the server may already hold the message).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib.response import SMTPResponse

from ..errors import ConnectorError, ErrorCode
from .checkpoint import reach_message_data
from .pipelining import PipeliningProtocol

_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")
_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")


@dataclass
class Delivery:
    """What the server answered for one message."""

    accepted: list[str]
    rejected: dict[str, tuple[int, str]]
    response: str
    smtp_code: int
    pipelined: bool = False


class MailTransaction:
    """Deliver one message over `smtp`; each reply waits at most `reply_timeout()` seconds."""

    def __init__(
        self, smtp: aiosmtplib.SMTP, name: str, reply_timeout: Callable[[], float]
    ) -> None:
        self._smtp = smtp
        self._name = name
        self._reply_timeout = reply_timeout
        self.stage = "mail"

    async def run(
        self, sender: str, recipients: list[str], data: bytes, smtputf8: bool, pipelining: bool
    ) -> Delivery:
        smtp = self._smtp
        if smtputf8 and not smtp.supports_extension("smtputf8"):
            raise ConnectorError(
                ErrorCode.INVALID_RECIPIENT,
                f"{self._name} does not support SMTPUTF8, which this address needs "
                "(a non-ASCII local part).",
                server=self._name,
                retryable=False,
                stage="mail",
            )
        payload = dot_stuff(data)
        options = _mail_options(smtp, len(payload), smtputf8)
        encoding = "utf-8" if smtputf8 else "ascii"
        if pipelining and smtp.supports_extension("pipelining"):
            return await self._pipelined(sender, recipients, payload, options, encoding)
        return await self._lockstep(sender, recipients, payload, options, encoding)

    def _protocol(self) -> PipeliningProtocol:
        protocol = self._smtp.protocol
        assert isinstance(protocol, PipeliningProtocol)
        return protocol

    async def _pipelined(
        self, sender: str, recipients: list[str], payload: bytes, options: list[str], enc: str
    ) -> Delivery:
        protocol = self._protocol()
        commands = [
            _command("MAIL FROM:", sender, options),
            *(_command("RCPT TO:", rcpt, []) for rcpt in recipients),
            "DATA",
        ]
        self.stage = "mail"
        burst = "".join(f"{c}\r\n" for c in commands).encode(enc)
        replies = await protocol.exchange(burst, len(commands), self._reply_timeout())
        mail_reply, rcpt_replies, data_reply = replies[0], replies[1:-1], replies[-1]
        accepted, rejected = _split_recipients(recipients, rcpt_replies)
        if data_reply.code == 354 and (mail_reply.code != 250 or not accepted):
            await protocol.exchange(b".\r\n", 1, self._reply_timeout())  # RFC 2920: end DATA
        if mail_reply.code != 250:
            raise aiosmtplib.SMTPSenderRefused(mail_reply.code, mail_reply.message, sender)
        _raise_if_all_rejected(recipients, rejected)
        if data_reply.code != 354:
            self.stage = "data"
            raise aiosmtplib.SMTPDataError(data_reply.code, data_reply.message)
        return await self._send_payload(payload, accepted, rejected, True)

    async def _lockstep(
        self, sender: str, recipients: list[str], payload: bytes, options: list[str], enc: str
    ) -> Delivery:
        smtp = self._smtp
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
        return await self._send_payload(payload, accepted, rejected, False)

    async def _send_payload(
        self,
        payload: bytes,
        accepted: list[str],
        rejected: dict[str, tuple[int, str]],
        pipelined: bool,
    ) -> Delivery:
        self.stage = "data"  # a failing checkpoint drops the connection: the server is in DATA
        await reach_message_data(self._name)
        self.stage = "after_data"
        (final,) = await self._protocol().exchange(payload, 1, self._reply_timeout())
        if final.code != 250:
            self.stage = "data"
            raise aiosmtplib.SMTPDataError(final.code, final.message)
        return Delivery(accepted, rejected, final.message, final.code, pipelined)


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


def dot_stuff(data: bytes) -> bytes:
    r"""RFC 5321 §4.5.2 transparency plus the terminating `.`.

    Bare CR and bare LF become CRLF first (as aiosmtplib's own `data()` does): a server that
    takes a bare CR or LF as a line end would otherwise read `\r.\r\n` or `\n.\r\n` as the end
    of the message and the rest as new commands (SMTP smuggling)."""
    if data.count(b"\r") != data.count(b"\r\n") or data.count(b"\n") != data.count(b"\r\n"):
        data = _LINE_END.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b".") or b"\n." in data:
        data = _DOT_AT_LINE_START.sub(b"..", data)
    return data + b".\r\n"


def _split_recipients(
    recipients: list[str], replies: list[SMTPResponse]
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
