"""The common envelope (one recipient, no SMTPUTF8) reads SIZE support from the parsed EHLO
keywords directly: over generated EHLO replies it writes the bytes the general form writes
(`_mail_options`, which asks aiosmtplib's `supports_extension`)."""

from __future__ import annotations

from typing import Any

import aiosmtplib
from aiosmtplib.esmtp import parse_esmtp_extensions
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector.delivery.transaction import Job, _command, _mail_options, envelope

_KEYWORDS = st.sampled_from(
    ["SIZE", "size", "Size 35882577", "SIZE 0", "SIZEX", "XSIZE", "PIPELINING", "8BITMIME"]
)
_LINES = st.lists(_KEYWORDS | st.from_regex(r"[A-Za-z0-9-]{1,10}( [a-z0-9]{1,5})?", fullmatch=True))


def _general(smtp: aiosmtplib.SMTP, job: Any, payload: bytes) -> bytes:
    lines = [_command("MAIL FROM:", job.sender, _mail_options(smtp, len(payload), False))]
    lines += [f"RCPT TO:<{job.recipients[0]}>", "DATA\r\n"]
    return "\r\n".join(lines).encode("ascii")


@settings(max_examples=200, deadline=None)
@given(lines=_LINES, data=st.binary(max_size=64).map(lambda b: b.replace(b"\n", b"\r\n")))
def test_the_common_envelope_offers_size_as_the_general_form_does(
    lines: list[str], data: bytes
) -> None:
    smtp = aiosmtplib.SMTP()
    smtp.esmtp_extensions = parse_esmtp_extensions("\n".join(["mx.example.org", *lines]))[0]
    job = Job("noreply@example.com", ["a@example.org"], data, False, 0.0, None, None)  # type: ignore[arg-type]
    burst, payload = envelope(smtp, job, "primary")
    assert burst == _general(smtp, job, payload)
