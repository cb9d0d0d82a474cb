"""MIME composition: rendered bodies + addresses → the exact bytes that go on the wire.

The stdlib `EmailMessage` path costs ~1.4 ms a message; a verification mail is a fixed shape
(one or two text parts, a dozen headers), so it is written directly here in ~30 µs. The output
is plain RFC 5322/2045 and is parsed back with the stdlib parser in the tests. Every header value
passes through one encoder (`headers`), so no payload or config value can add a header or a MIME
part.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import itertools
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import format_datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..addresses import Address
from .headers import CRLF, MAX_LINE_OCTETS, address_header, encode_header, mailbox_header
from .wire import WireFill, message_format

BASE64_LINE = 76  # characters of base64 per line (RFC 2045 §6.8)
# What may travel raw in a 7bit part: not NUL (RFC 2045 §2.7) and, stricter, no other
# control character but TAB and the line ending (the body is normalised to LF here).
_7BIT_SAFE_BYTES = b"\t\n" + bytes(range(0x20, 0x7F))


def _is_7bit(text: str, short_lines: bool = False) -> bool:
    """ASCII, no line over 998 octets (known already when `short_lines`), and no control
    character but TAB and LF (the bytes check, deleting every allowed byte, is ~8x quicker
    than a regex search over the text)."""
    if not text.isascii() or (not short_lines and _has_long_line(text)):
        return False
    return not text.encode("ascii").translate(None, _7BIT_SAFE_BYTES)


def _has_long_line(text: str) -> bool:
    return len(text) > MAX_LINE_OCTETS and max(map(len, text.split("\n"))) > MAX_LINE_OCTETS


def _base64_size(octets: int) -> int:
    """Length of `octets` bytes as base64 in lines of 76 characters with CRLF."""
    encoded = 4 * ((octets + 2) // 3)
    return encoded + 2 * -(-encoded // BASE64_LINE)


def _base64_lines(data: bytes) -> bytes:
    encoded = binascii.b2a_base64(data, newline=False)
    lines = [encoded[i : i + BASE64_LINE] for i in range(0, len(encoded), BASE64_LINE)]
    return b"".join(line + b"\r\n" for line in lines)


def _body_part(text: str, subtype: str, short_lines: bool = False) -> tuple[str, bytes]:
    """Headers and encoded body of one text part, the transfer encoding chosen per part:
    7bit for plain ASCII (readable as is), else whichever of quoted-printable and base64 is
    smaller: QP for mostly-Latin text, base64 for non-Latin scripts (about half the size of
    QP for a Chinese or Russian text part, where QP spends three octets per UTF-8 octet). Control
    characters (NUL above all) never travel raw: they make the part QP or base64 too."""
    normal = text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    if not normal.endswith("\n"):
        normal += "\n"
    if _is_7bit(normal, short_lines):
        payload = normal.encode("ascii").replace(b"\n", b"\r\n")
        charset, cte = "us-ascii", "7bit"
    else:
        data = normal.encode("utf-8")
        payload = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
        charset, cte = "utf-8", "quoted-printable"
        if _base64_size(len(data)) < len(payload):
            payload, cte = _base64_lines(data), "base64"
    headers = (
        f'Content-Type: text/{subtype}; charset="{charset}"{CRLF}'
        f"Content-Transfer-Encoding: {cte}{CRLF}"
    )
    return headers, payload


@functools.lru_cache(maxsize=2)
def _date_for(second: int) -> str:
    """RFC 5322 §3.3 with a numeric zone (`+0000`), not the obsolete `GMT`."""
    return format_datetime(dt.datetime.fromtimestamp(second, dt.UTC))


def _date_header() -> str:
    """RFC 5322 date, formatted once per second (it is the same for every message in it)."""
    return _date_for(int(time.time()))


class _UniqueTokens:
    """Message-IDs and MIME boundaries: a random prefix per process (80 bits from `secrets`,
    so no one can guess another process's, or this one's before seeing a message) plus a
    counter (so none repeats within the process). One `secrets` call per process instead of
    one per message; a forked child draws a new prefix, else parent and child would collide."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = secrets.token_hex(10)
        self.counter = itertools.count()

    def next(self) -> str:
        # `%x` formatting, not an f-string's `:x` (which goes through `format()` and parses
        # its spec): the same text, two a message.
        return self.prefix + "%x" % next(self.counter)  # noqa: UP031


unique_token = _UniqueTokens().next


def make_message_id(domain: str) -> str:
    """`<unique@sender-domain>`: unique, and on the sender's domain as DMARC-minded filters like."""
    return f"<{unique_token()}.{int(time.time())}@{domain}>"


@dataclass
class RenderedEmail:
    """A rendered verification email. `as_bytes()` gives the RFC 5322 message for the wire."""

    subject: str
    text: str | None
    html: str | None
    from_address: Address
    to: tuple[Address, ...] = ()
    reply_to: Address | None = None
    headers: tuple[tuple[str, str], ...] = ()
    usage_type: str = "Generic"
    locale: str | None = None
    message_id: str = ""
    date: str = field(default_factory=lambda: _date_header())
    payload: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _bytes: bytes | None = field(default=None, repr=False, compare=False)
    # Bodies the shape cache knows to have no line over 998 characters (matched by identity,
    # so a body replaced after rendering is measured again).
    _short_lines: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # The shape's wire skeleton and this message's values (compose/wire.py), when it has one.
    _wire: WireFill | None = field(default=None, repr=False, compare=False)
    _composed: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _payload: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.message_id:
            self.message_id = make_message_id(self.from_address.ascii_domain)

    if TYPE_CHECKING:  # where the `text` and `html` properties keep their values (not fields)
        _text: str | _Lazy | None = field(init=False, repr=False, compare=False)
        _html: str | _Lazy | None = field(init=False, repr=False, compare=False)

    @property
    def needs_smtputf8(self) -> bool:
        """True when an address has a non-ASCII local part (RFC 6531): `Address.needs_smtputf8`
        of each, its test written out (read twice a send: no property call per address, no
        tuple, no generator)."""
        if not self.from_address.local.isascii():
            return True
        for address in self.to:
            if not address.local.isascii():
                return True
        return self.reply_to is not None and not self.reply_to.local.isascii()

    @property
    def envelope_from(self) -> str:
        return self.from_address.envelope

    @property
    def envelope_to(self) -> list[str]:
        to = self.to
        if len(to) == 1:  # the usual one recipient: no comprehension (a call of its own)
            return [to[0].envelope]
        return [address.envelope for address in to]

    def as_bytes(self) -> bytes:
        """The message, CRLF line endings, no line over 998 octets. Built once, then cached."""
        if self._bytes is None:
            self._bytes = self._composed = self._compose()
        return self._bytes

    def wire_payload(self, data: bytes) -> bytes | None:
        """`data` dot-stuffed and terminated for DATA, when it is this email's composition
        and its body came from a shape's skeleton (which is kept stuffed); else None."""
        return self._payload if data is self._composed else None

    def crlf_only(self, data: bytes) -> bool:
        """True when `data` is this email's own composition: `_compose` ends every line with
        CRLF (bodies normalised, headers folded with CRLF), so the wire step need not look for
        a bare CR or LF in it (signed or replaced bytes are looked at)."""
        return data is self._composed

    def replace_bytes(self, data: bytes) -> None:
        """Swap in a transformed message (DKIM/S-MIME signing happens on the final bytes)."""
        self._bytes = data

    def _compose(self) -> bytes:
        utf8 = self.needs_smtputf8
        wire = self._wire
        if wire is not None:  # its body still this email's? Text and HTML never read, or kept
            text, html = self._text, self._html
            if not (text is _Lazy.WIRE or text is wire.text_filled) or not (
                html is _Lazy.WIRE or html is wire.html_filled
            ):
                wire = None  # replaced after rendering: the general path writes them
        if wire is not None:
            data = self._from_format(wire, utf8)
            if data is not None:
                return data
        head = [mailbox_header("From", self.from_address, utf8)]
        if self.to:
            head.append(address_header("To", self.to, utf8))
        if self.reply_to:
            head.append(mailbox_header("Reply-To", self.reply_to, utf8))
        head += [
            encode_header("Subject", self.subject, split_long_words=True),
            f"Date: {self.date}",
            f"Message-ID: {self.message_id}",
            "MIME-Version: 1.0",
            "Auto-Submitted: auto-generated",
        ]
        head += [encode_header(name, value) for name, value in self.headers]
        header_block = (CRLF.join(head) + CRLF).encode("utf-8")
        if wire is not None:
            body, stuffed = wire.body(f"=_sc_{unique_token()}")
            stuffed_head = header_block.replace(b"\n.", b"\n..")
            self._payload = b"".join((stuffed_head, stuffed, b".\r\n"))  # one copy, not two
            return header_block + body
        return header_block + self._body()

    def _from_format(self, wire: WireFill, utf8: bool) -> bytes | None:
        """The whole message from the shape's message format (compose/wire.py), its DATA
        payload kept beside it; None when a line could start with a dot (the general path
        then stuffs what it writes). The header lines are the ones `_compose` writes."""
        recent = wire.skeleton.recent
        last = recent[0] if recent else None  # one tuple, read at once (threads may render)
        if (
            last is not None
            and last[0] is self.from_address
            and last[1] is self.reply_to
            and last[2] is self.headers
            and last[3] is utf8
        ):
            form = last[4]
        else:
            fixed = (
                mailbox_header("From", self.from_address, utf8),
                mailbox_header("Reply-To", self.reply_to, utf8) + CRLF if self.reply_to else "",
                "".join(encode_header(name, value) + CRLF for name, value in self.headers),
            )
            form = message_format(wire.skeleton, fixed)
            recent[:] = [(self.from_address, self.reply_to, self.headers, utf8, form)]
        if not form.stuffed_same:
            return None
        to = address_header("To", self.to, utf8) + CRLF if self.to else ""
        subject = encode_header("Subject", self.subject, split_long_words=True)
        date, message_id = self.date, self.message_id
        if "\n." in to or "\n." in subject or "\n" in date or "\n" in message_id:
            return None  # the encoders fold with a space, never a dot: kept for a set value
        heads = (to, subject, date, message_id)
        data = form.fill(heads, (f"=_sc_{unique_token()}", *wire.values))
        self._payload = data + b".\r\n"
        return data

    def _body(self) -> bytes:
        parts = [
            _body_part(body, subtype, any(body is short for short in self._short_lines))
            for body, subtype in ((self.text, "plain"), (self.html, "html"))
            if body is not None
        ]
        if not parts:
            parts = [_body_part("", "plain")]
        if len(parts) == 1:
            headers, payload = parts[0]
            return headers.encode("ascii") + b"\r\n" + payload
        return _multipart_alternative(parts, f"=_sc_{unique_token()}")


class _Lazy(Enum):
    """`_text`/`_html` of an email whose part is still its wire fill's, not yet filled (an
    enum member: the same object after a copy or a pickle)."""

    WIRE = "wire"


def _body_property(name: str) -> property:
    """`RenderedEmail.text`/`.html`: kept in `_text`/`_html`; a part that is the wire fill's
    is filled on first read (`WireFill.text`/`.html`) and then kept like any value."""
    slot = f"_{name}"

    def read(email: RenderedEmail) -> str | None:
        value = getattr(email, slot)
        if value is _Lazy.WIRE:
            value = getattr(email._wire, name)
            setattr(email, slot, value)
        return value

    def write(email: RenderedEmail, value: str | None) -> None:
        setattr(email, slot, value)

    return property(read, write, doc=f"The {name} part (None: the message has none).")


# The dataclass's fields stay (`__init__`, equality, repr, `replace` read and write them
# through these); only the storage moves, so a part can wait to be filled.
setattr(RenderedEmail, "text", _body_property("text"))  # noqa: B010
setattr(RenderedEmail, "html", _body_property("html"))  # noqa: B010
_new_email = object.__new__


def rendered_email(
    subject: str,
    text: str | None,
    html: str | None,
    from_address: Address,
    to: tuple[Address, ...],
    reply_to: Address | None,
    headers: tuple[tuple[str, str], ...],
    usage_type: str,
    locale: str | None,
    short_lines: tuple[str, ...] = (),
    wire: WireFill | None = None,
) -> RenderedEmail:
    """`RenderedEmail(...)` as the connector builds one per message, without the dataclass's
    `__init__` (sixteen keyword fields, a default factory, `__post_init__` and the two
    properties' setters): the same instance, fields, equality and repr
    (tests/compose/test_lazy_bodies.py). `text` and `html` None with `wire`: the wire fill
    gives them when they are first read, so a message that is only sent never builds them.
    Plain attribute stores, in `__init__`'s order: the instance keeps its inline values."""
    email: RenderedEmail = _new_email(RenderedEmail)
    email.subject = subject
    lazy = wire is not None and text is None and html is None
    email._text = _Lazy.WIRE if lazy else text
    email._html = _Lazy.WIRE if lazy else html
    email.from_address = from_address
    email.to = to
    email.reply_to = reply_to
    email.headers = headers
    email.usage_type = usage_type
    email.locale = locale
    email.message_id = make_message_id(from_address.ascii_domain)
    email.date = _date_header()
    email.payload = {}
    email._bytes = None
    email._short_lines = short_lines
    email._wire = wire
    return email  # `_composed` and `_payload`: the class's None until composed, as after `__init__`


def alternative_body(text: str, html: str, boundary: str) -> tuple[bytes, list[str]]:
    """A text + HTML body as `_body` writes it, with each part's transfer encoding (for a
    shape's skeleton, compose/wire.py)."""
    parts = [_body_part(text, "plain"), _body_part(html, "html")]
    encodings = ["7bit" if "Transfer-Encoding: 7bit\r\n" in head else "other" for head, _ in parts]
    return _multipart_alternative(parts, boundary), encodings


def _multipart_alternative(parts: Iterable[tuple[str, bytes]], boundary: str) -> bytes:
    chunks = [
        f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}{CRLF}'.encode("ascii")
    ]
    for headers, payload in parts:
        chunks.append(f"--{boundary}{CRLF}{headers}{CRLF}".encode("ascii"))
        chunks.append(payload)
    chunks.append(f"--{boundary}--{CRLF}".encode("ascii"))
    return b"".join(chunks)
