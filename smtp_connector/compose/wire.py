"""The body of a proven shape as wire bytes with slots: encoded and dot-stuffed once per shape.

The shape cache (`shapes.py`) already gives each message's text and HTML as a template's
pieces with the payload's values in between. For the common message — a text and an HTML part,
both 7bit, every value printable ASCII that does not start with `.` — the MIME body is those
pieces encoded, with the values (and the multipart boundary) in between: so it is built once
per shape from a *skeleton* (the parts filled with sentinels, through the same `_body_part`
and multipart code as every message), split at the sentinels, and a message only joins bytes.
The dot-stuffed form (RFC 5321 §4.5.2) is kept beside it, so the wire step does not search
the message for lines starting with a dot either.

Why the joined bytes equal the full path's: a value without CR, LF or control characters
changes no line ending, keeps a 7bit part 7bit (line lengths are the shape cache's
`short_lines` proof for this message's values), adds no line and, not starting with a dot,
never makes a line start with one. Anything else takes the full path. The equality is
proven on generated values in tests/compose/test_wire_shapes.py.

The headers join the skeleton too (`MessageFormat`): the lines that are the same for every
message of a sender (From, Reply-To, MIME-Version, Auto-Submitted, custom headers) are written
into one format with the body, once per skeleton and sender, and a message fills in its own
header lines (To, Subject, Date, Message-ID: each still written by the one header encoder, so
RFC 2047, folding and the line limit apply to per-message values), the boundary and the body's
values: one string formatting and one encoding per message (tests/compose/
test_message_format.py proves the bytes equal the full path's).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_SENDERS = 32  # message formats kept per skeleton (senders × reply-to × custom headers)


@dataclass(frozen=True)
class Skeleton:
    """A shape's body bytes, plain and dot-stuffed, as `%`-formats with a `%s` per slot;
    `slots[i]` says which value fills the i-th (0: the boundary, then the text's values, then
    the HTML's): one C-level formatting per message instead of a join loop."""

    plain: bytes
    stuffed: bytes
    slots: tuple[int, ...]
    # Whole-message formats by their fixed header lines (see `message_format`).
    messages: dict[tuple[str, ...], MessageFormat] = field(
        default_factory=dict, compare=False, repr=False
    )
    # [(from, reply-to, headers, utf8, format)] of the last sender, found by identity: a
    # message of the usual sender reads its format without building the key above.
    recent: list[Any] = field(default_factory=list, compare=False, repr=False)

    def join(self, values: Sequence[bytes]) -> tuple[bytes, bytes]:
        """(body, dot-stuffed body) with `values` in their slots. A skeleton with no line
        starting with a dot (the usual one) is its own stuffed form, and so is its body: no
        value starts with a dot or holds a line break (`plain_values`)."""
        args = tuple(map(values.__getitem__, self.slots))
        body = self.plain % args
        return body, body if self.stuffed is self.plain else self.stuffed % args


@dataclass(slots=True)
class WireFill:
    """One message's way to its body through a skeleton: the skeleton and its values. (One
    per message: not frozen, whose `__init__` costs four times a plain slotted one's.)

    The text and HTML it stands for are filled only when read (`text`, `html`): the message
    format writes the body from the skeleton, so a message that nobody reads as text (every
    message `send_many` delivers) never builds its two parts of a few kilobytes."""

    skeleton: Skeleton
    values: tuple[str, ...]  # the text's values, then the HTML's (escaped); not the boundary
    parts: tuple[Any, Any]  # the shape's text and HTML parts (`shapes._Part`) they fill
    text_filled: str | None = None  # the text and HTML once read (None: not yet)
    html_filled: str | None = None

    @property
    def text(self) -> str:
        """The text part, filled on first read and kept (compared by identity when composing)."""
        if self.text_filled is None:
            self.text_filled = self.parts[0].fill(self.values)
        return self.text_filled

    @property
    def html(self) -> str:
        """The HTML part (its values escaped), filled on first read and kept."""
        if self.html_filled is None:
            self.html_filled = self.parts[1].fill(self.values[len(self.values) // 2 :])
        return self.html_filled

    def body(self, boundary: str) -> tuple[bytes, bytes]:
        return self.skeleton.join([boundary.encode("ascii"), *[v.encode() for v in self.values]])


def plain_values(values: Sequence[str], joined: str | None = None) -> bool:
    """Values the skeleton can carry: printable ASCII (no CR, LF, TAB or other control
    character), none starting with a dot. (Their HTML-escaped forms then are too: escaping
    writes printable ASCII entities and never a leading dot.) `joined`: `"".join(values)`,
    when the caller has it."""
    if joined is None:
        joined = "".join(values)
    if not (joined.isascii() and joined.isprintable()):
        return False
    return "." not in joined or not any(value.startswith(".") for value in values)


# (text, html, boundary) -> (body bytes, each part's Content-Transfer-Encoding)
Compose = Callable[[str, str, str], tuple[bytes, list[str]]]


def build_skeleton(text_part: Any, html_part: Any, count: int, compose: Compose) -> Skeleton | None:
    """The skeleton of a shape whose parts are `text_part` and `html_part` (`shapes._Part`),
    with `count` values, or None when it cannot have one (a part not 7bit with sentinels in
    place). `compose` is
    the message module's body composer, so the skeleton is encoded exactly as any body. The
    HTML part's slots take the HTML-escaped values, as `shapes` fills them."""
    nonce = secrets.token_hex(8)
    text = text_part.fill([f"@@{nonce}x{index}@@" for index in range(count)])
    html = html_part.fill([f"@@{nonce}x{count + index}@@" for index in range(count)])
    body, encodings = compose(text, html, f"@@{nonce}b@@")
    if encodings != ["7bit", "7bit"] or not body.isascii():
        return None
    return _split(body, nonce, 2 * count)


def _split(body: bytes, nonce: str, count: int) -> Skeleton | None:
    """Cut `body` at the sentinels (the boundary → slot 0, value i → slot i + 1)."""
    pattern = re.compile(b"@@" + nonce.encode() + b"(b|x[0-9]+)@@")
    pieces = pattern.split(body)
    plain, names = pieces[0::2], pieces[1::2]
    slots = tuple(0 if name == b"b" else int(name[1:]) + 1 for name in names)
    if any(nonce.encode() in piece for piece in plain) or any(s > count for s in slots):
        return None
    formats = [piece.replace(b"%", b"%%") for piece in plain]
    plain_format = b"%s".join(formats)
    stuffed = plain_format.replace(b"\n.", b"\n..") if b"\n." in plain_format else plain_format
    return Skeleton(plain_format, stuffed, slots)


@dataclass(frozen=True)
class MessageFormat:
    """A whole message as one `%`-format: the fixed header lines and the body skeleton as
    text, a `%s` for the To lines, the Subject line, the Date, the Message-ID, then the body's
    slots (`body_slots`: 0 the boundary, then the values). `stuffed_same`: neither the fixed
    text nor any slot can put a dot at the start of a line, so the DATA payload is the message
    plus the final dot (a slot is never one: header slots start with their name, the body's
    values are `plain_values`). `frame` is `text` cut at its holes (`cut_format`): what a
    message fills, with one join instead of a `%` formatting, which reads the whole text of a
    few kilobytes character by character (2.4 times the instructions, by valgrind)."""

    text: str
    body_slots: tuple[int, ...]
    stuffed_same: bool
    frame: tuple[str | None, ...] = field(default=(), compare=False, repr=False)

    def fill(self, heads: tuple[str, str, str, str], values: Sequence[str]) -> bytes:
        """The message for these header lines (To lines with their CRLF, or ""; the Subject
        line; the Date and Message-ID values) and body values (the boundary first)."""
        out = [*self.frame]
        out[1::2] = (*heads, *map(values.__getitem__, self.body_slots))
        return "".join(out).encode()  # type: ignore[arg-type]  # every hole is filled


def cut_format(text: str) -> tuple[str | None, ...]:
    """`text`, a `%`-format of `%s` holes and `%%` escapes only, as its fixed pieces with a
    None between each two (where a hole is), the escapes undone: `"".join` of it with the
    holes filled equals `text % values` (tests/compose/test_wire_shapes.py)."""
    frame: list[str | None] = []
    piece: list[str] = []
    for token in _FORMAT_TOKEN.split(text):
        if token == "%s":
            frame += ["".join(piece), None]
            piece = []
        else:
            piece.append("%" if token == "%%" else token)
    frame.append("".join(piece))
    return tuple(frame)


_FORMAT_TOKEN = re.compile("(%%|%s)")


def message_format(skeleton: Skeleton, fixed: tuple[str, str, str]) -> MessageFormat:
    """The skeleton's whole-message format for `fixed` = (the From line, the Reply-To line
    with its CRLF or "", the custom header lines with a CRLF each): built on first use, kept
    per skeleton (at most `MAX_SENDERS`: a sender templated per message would grow it)."""
    known = skeleton.messages.get(fixed)
    if known is not None:
        return known
    from_line, reply_line, custom = (part.replace("%", "%%") for part in fixed)
    head = (
        f"{from_line}\r\n%s{reply_line}%s\r\nDate: %s\r\nMessage-ID: %s\r\n"
        f"MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n{custom}"
    )
    text = head + skeleton.plain.decode("ascii")
    same = "\n." not in text and skeleton.stuffed is skeleton.plain
    made = MessageFormat(text, skeleton.slots, same, cut_format(text))
    if len(skeleton.messages) >= MAX_SENDERS:
        skeleton.messages.clear()
    skeleton.messages[fixed] = made
    return made
