"""`customHeaders`: which names may be set and what a value may hold.

Checked when the config loads, so a header that would split the message (CR/LF), replace one the
connector owns (From, Content-Type …) or exceed the 998-octet line limit is an `invalid_config`
error naming the header, not a surprise on the first send. Encoding the values is compose's job.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..addresses import CONTROLS
from ..lazy import LazyPattern

MAX_LINE_OCTETS = 998
_FIELD_NAME = LazyPattern(r"^[!-9;-~]+$")


def is_field_name(name: str) -> bool:
    """RFC 5322's field-name: one or more printable US-ASCII characters other than ':' (no
    space). The one test of a header name, for custom headers and DKIM's signed-header list."""
    return _FIELD_NAME.match(name) is not None


_RESERVED_HEADERS = {
    "from": "set `fromEmail` / `fromName`",
    "to": "the recipient is given to send()",
    "cc": "send one message per recipient",
    "bcc": "send one message per recipient",
    "subject": "the subject comes from the template",
    "date": "the connector sets it",
    "message-id": "the connector sets it on the sender's domain",
    "mime-version": "the connector sets it",
    "content-type": "the connector builds the MIME structure",
    "content-transfer-encoding": "the connector chooses the encoding",
    "sender": "set `fromEmail`",
    "reply-to": "set `replyTo`",
}


def validate_custom_headers(headers: Mapping[str, str | list[str]]) -> list[tuple[str, str]]:
    """Check `customHeaders` and flatten them to (name, value) pairs; raise ValueError naming the
    offending header (the config layer turns it into `invalid_config`)."""
    pairs: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not isinstance(name, str) or not is_field_name(name):
            raise ValueError(
                f"customHeaders: {name!r} is not a valid header name "
                "(printable ASCII without spaces or ':')"
            )
        reason = _RESERVED_HEADERS.get(name.lower())
        if reason:
            raise ValueError(f"customHeaders: {name!r} cannot be set here; {reason}")
        for item in value if isinstance(value, list) else [value]:
            _check_value(name, item)
            pairs.append((name, item))
    return pairs


def _check_value(name: str, item: object) -> None:
    if not isinstance(item, str):
        raise ValueError(f"customHeaders: value of {name!r} must be a string")
    found = next((m for m in CONTROLS.finditer(item) if m.group() != "\t"), None)
    if found is not None:  # TAB is whitespace in a header; every other control is refused
        raise ValueError(
            f"customHeaders: value of {name!r} contains a line break or control character "
            f"(U+{ord(found.group()):04X}); header values must be a single line of text"
        )
    if item.isascii() and _longest_word(item) + len(name) + 2 > MAX_LINE_OCTETS - 2:
        # ASCII values fold only at spaces (structured values such as URLs are never encoded),
        # so one unbroken run must fit on a line; non-ASCII values become encoded-words.
        raise ValueError(f"customHeaders: value of {name!r} is longer than 998 octets")


def _longest_word(value: str) -> int:
    return max(map(len, value.split()), default=0)
