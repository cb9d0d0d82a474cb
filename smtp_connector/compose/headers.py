"""Header encoding: RFC 2047 encoded-words, display names, folding at 78 columns.

Every header value of a message passes through here; values are single-line by the time they
arrive (config and rendering refuse or collapse line breaks), so nothing here can add a header.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from email import quoprimime
from email.header import Header

from ..addresses import Address, check_display_name
from ..lazy import LazyPattern

CRLF = "\r\n"
MAX_LINE_OCTETS = 998
_MAX_WORD = 60  # longest unbroken run kept as is in a header; longer runs get encoded-words
_ATOM_TOKEN = LazyPattern(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")
_ATOM_SAFE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ .-]*$")


def encode_header(name: str, value: str, *, split_long_words: bool = False) -> str:
    """`Name: value` folded at 78 columns, RFC 2047-encoded when not ASCII; never multi-line
    in meaning (line breaks in `value` are refused before this point)."""
    if value.isascii() and "=?" not in value and len(name) + len(value) + 2 <= 78:
        return f"{name}: {value}"
    plain = value.isascii() and "=?" not in value
    if plain and split_long_words and _has_long_word(value):
        plain = False
    # ASCII folds at spaces. Non-ASCII becomes RFC 2047 encoded-words, which can be split
    # anywhere; so does free text (the subject) with a word too long to fold. Structured
    # custom headers (URLs, tokens) are never encoded: too long is refused at config time.
    folded = Header(value, "us-ascii" if plain else "utf-8", header_name=name).encode(linesep=CRLF)
    return f"{name}: {folded}"


def _has_long_word(value: str) -> bool:
    return max(map(len, value.split()), default=0) > _MAX_WORD


def format_mailbox(address: Address, *, utf8: bool = False) -> str:
    """`Display Name <local@domain>` with the display name quoted or RFC 2047-encoded as needed.

    `utf8` (SMTPUTF8 messages) keeps the Unicode domain; otherwise the punycode form is used.
    """
    domain = address.domain if utf8 else address.ascii_domain
    spec = f"{address.local}@{domain}"
    if not address.display_name:  # the usual recipient: no name to check, quote or encode
        return spec
    # Config and parsing have refused or collapsed control characters already; an Address
    # built some other way still cannot put one into a header.
    name = check_display_name(address.display_name, collapse=True)
    if not name:
        return spec
    if name.isascii() and "=?" not in name and len(name) <= _MAX_WORD:
        if _ATOM_SAFE.match(name) and "." not in name:
            return f"{name} <{spec}>"
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{spec}>'
    return _fold([*_phrase_words(name), f"<{spec}>"])


def _phrase_words(name: str) -> list[str]:
    """A display name as RFC 2047 phrase words: plain atoms stay readable, runs of other words
    become one encoded-word (split only when longer than 75 characters). Keeping an atom
    between encoded-words keeps the spaces right in both RFC 2047 decoders and Python's.
    An atom too long to fold (one long word) is encoded too, so that it can be split."""
    groups: list[tuple[bool, str]] = []
    for token in name.split():
        plain = (
            token.isascii()
            and len(token) <= _MAX_WORD
            and bool(_ATOM_TOKEN.match(token))
            and "=?" not in token
        )
        if groups and not plain and not groups[-1][0]:
            groups[-1] = (False, f"{groups[-1][1]} {token}")
        else:
            groups.append((plain, token))
    words: list[str] = []
    for plain, text in groups:
        words.extend([text] if plain else _encoded_words(text))
    return words


def _encoded_words(text: str) -> list[str]:
    words, chunk = [], ""
    for char in text:
        if len(_q_word(chunk + char)) > 75 and chunk:
            words.append(_q_word(chunk))
            chunk = ""
        chunk += char
    return [*words, _q_word(chunk)]


def _q_word(text: str) -> str:
    return quoprimime.header_encode(text.encode("utf-8"), "utf-8")


def _fold(words: list[str], indent: int = 10) -> str:
    """Join words with spaces, breaking (CRLF + space) before a line passes 78 columns."""
    lines, line = [], ""
    for word in words:
        if line and indent + len(line) + 1 + len(word) > 78:
            lines.append(line)
            line, indent = word, 1
        else:
            line = f"{line} {word}" if line else word
    return (CRLF + " ").join([*lines, line])


def address_header(name: str, addresses: Sequence[Address], utf8: bool) -> str:
    """An address header, one mailbox per folded line when the list is long."""
    if len(addresses) == 1:  # one mailbox (every message's To): its line, nothing to fold
        return f"{name}: {format_mailbox(addresses[0], utf8=utf8)}"
    mailboxes = [format_mailbox(address, utf8=utf8) for address in addresses]
    joined = ", ".join(mailboxes)
    if len(name) + len(joined) + 2 <= 78:
        return f"{name}: {joined}"
    return f"{name}: " + ("," + CRLF + " ").join(mailboxes)


@functools.lru_cache(maxsize=256)
def mailbox_header(name: str, address: Address, utf8: bool) -> str:
    """A one-mailbox header (From, Reply-To): the same few senders in every message, so the
    encoded form is kept (`Address` is frozen, so the key is its value)."""
    return address_header(name, [address], utf8)
