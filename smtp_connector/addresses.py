"""Email address parsing and validation, shared by config (fromEmail, replyTo) and sends (to).

Verification mail goes to addresses typed by strangers, so an address is parsed once, strictly,
into the two forms SMTP needs: the envelope address (IDN domain as punycode; UTF-8 local part
only with SMTPUTF8) and the header form (display name RFC 2047-encoded by the message builder).

Two rules live here because every address and display name passes through this module:
- Display names: `check_display_name` is the one validator. Control characters (C0 including
  TAB, DEL, C1) and U+2028/U+2029 are refused in names an admin configured (`fromName`,
  `servers[].defaultFromName`, the name in `fromEmail`/`replyTo`/`defaultFromEmail`) and
  collapsed into a space in a recipient's name (typed by a user; the name is cosmetic, the
  mail must still reach them). CR, LF and NUL anywhere in an address string are refused.
- Special-use domains (RFC 6761/2606 `.test`, `.example`, `.invalid`, `.localhost`; RFC 6762
  `.local`; `.onion`, `.arpa`): refused with an error naming the rule unless the config sets
  `allowSpecialUseDomains` (local development, tests). `example.com/.net/.org` are ordinary.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.utils import getaddresses

from .errors import Cause, ConnectorError, ErrorCode
from .lazy import LazyPattern

MAX_ADDRESS_OCTETS = 254
MAX_LOCAL_OCTETS = 64
_FORBIDDEN = ("\r", "\n", "\x00")
# A dot-atom local part @ LDH labels (1-63 characters, no hyphen first or last) and a
# letters-only top label. Written with possessive repeats and look-arounds (Python 3.11+):
# no run of these can end anywhere but at its `.` or `@`, so giving characters back never
# helps, and not trying saves a fifth of the match (~1,900 instructions a recipient).
# tests/test_address_pattern.py holds it equal to the plain form, `[A-Za-z0-9](?:[A-Za-z0-9-]
# {0,61}[A-Za-z0-9])?` per label.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]++"
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}+(?<!-)"
_PLAIN = re.compile(rf"^({_ATEXT}(?:\.{_ATEXT})*+)@((?:{_LABEL}\.)++[A-Za-z]{{2,63}})$")
# Every control character (C0 with TAB, DEL, C1) and the Unicode line/paragraph separators:
# nothing of it belongs in a header, whoever typed it. Rendering collapses it in subjects too.
CONTROLS = LazyPattern(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_RUNS = LazyPattern(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# email-validator's list (SPECIAL_USE_DOMAIN_NAMES, which leaves out `example`, RFC 6761
# §6.5) plus `example`: an address there reaches nobody either. Second-level
# example.com/.net/.org stay ordinary. Written out so that a plain address (the fast path
# below) needs no email-validator, whose import compiles its grammar (~15 ms of a process's
# first send); tests/test_addresses_special_use.py holds it equal to email-validator's.
SPECIAL_USE_DOMAINS: tuple[str, ...] = (
    "arpa", "invalid", "local", "localhost", "onion", "test", "example",
)  # fmt: skip
# With `allowSpecialUseDomains`, email-validator (which refuses special-use names outright)
# checks the syntax of `user@name.test` as `user@name.test.example.com`; the suffix is removed.
_NEUTRAL_SUFFIX = ".example.com"
_IDNA_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def check_display_name(name: str, *, collapse: bool) -> str:
    """The one validator for display names. Returns the name to use, unchanged when it has no
    control character; otherwise collapses each run of them into one space (`collapse`) or
    raises ValueError saying which character is where (callers name the field)."""
    if name.isprintable():  # no character `CONTROLS` matches: the usual name, or none, as is
        return name
    found = CONTROLS.search(name)
    if found is None:
        return name
    if collapse:
        return " ".join(CONTROL_RUNS.sub(" ", name).split())
    char = found.group()
    kind = "a line break" if char in "\r\n\u2028\u2029" else "a control character"
    raise ValueError(
        f"the display name contains {kind} (U+{ord(char):04X} at position {found.start()}); "
        "a display name is one line of printable text"
    )


def special_use_domain(domain: str) -> str | None:
    """The special-use name `domain` falls under (`test` for `shop.test`), or None."""
    name = domain.translate(_IDNA_DOTS).lower().rstrip(".")
    for special in SPECIAL_USE_DOMAINS:
        if name == special or name.endswith("." + special):
            return special
    return None


def special_use_reason(domain: str, special: str | None) -> str:
    """Why an address on a special-use domain is refused, and the opt-in that allows it."""
    exact = special is None or domain.lower().rstrip(".") == special
    where = "is" if exact else f"is under `.{special}`,"
    return (
        f"{domain!r} {where} a special-use domain name (RFC 6761/2606: .test, "
        ".example, .invalid, .localhost; RFC 6762: .local) that no public mail server "
        "delivers to; set `allowSpecialUseDomains: true` in the config to allow such "
        "addresses for local development and tests"
    )


@dataclass(frozen=True)
class Address:
    """A validated mailbox: `envelope` goes into MAIL FROM / RCPT TO, `display` into headers."""

    local: str
    domain: str
    ascii_domain: str
    display_name: str = ""

    @property
    def envelope(self) -> str:
        return f"{self.local}@{self.ascii_domain}"

    @property
    def needs_smtputf8(self) -> bool:
        return not self.local.isascii()


def parse_address(
    value: str,
    *,
    what: str = "address",
    allow_display_name: bool = True,
    collapse_controls: bool = False,
    allow_special_use: bool = False,
) -> Address:
    """Parse `value` (`a@b` or `Name <a@b>`) or raise `ConnectorError(invalid_recipient)`.

    `what` names the field in the error so the person fixing it knows where to look.
    `collapse_controls` collapses control characters in the display name instead of refusing
    them (recipients); `allow_special_use` accepts `.test`, `localhost` & co. (module doc).
    """
    # The common recipient, a bare ASCII `local@host.tld`, is answered by one regex: each new
    # address would otherwise miss the cache below (sign-ups rarely repeat) and cost ~3 µs.
    match = _PLAIN.fullmatch(value) if type(value) is str else None
    if match is not None and len(value) <= MAX_ADDRESS_OCTETS:
        local, domain = match.group(1), match.group(2).lower()
        if len(local) <= MAX_LOCAL_OCTETS and (
            allow_special_use or _special_use_domain_cached(domain) is None
        ):
            return _plain_address(local, domain)
    return _parse_address(
        value,
        what=what,
        allow_display_name=allow_display_name,
        collapse_controls=collapse_controls,
        allow_special_use=allow_special_use,
    )


_new_object = object.__new__


def _plain_address(local: str, domain: str) -> Address:
    """`Address(local, domain, domain, "")` without the frozen dataclass's `__init__` (one
    `object.__setattr__` call per field, ~3x the cost): the one plain recipient of every
    message is built here, its fields stored into the instance's own (empty) `__dict__` in
    field order: about 1,000 instructions less than a dict literal and `update` (a parse of a
    new plain recipient: 12,600 -> 11,600).
    The instance is the same (fields and their order, eq, hash, repr, frozen);
    tests/compose/test_address_fast_path.py holds it to the constructor's."""
    address: Address = _new_object(Address)
    fields = address.__dict__
    fields["local"] = local
    fields["domain"] = domain
    fields["ascii_domain"] = domain
    fields["display_name"] = ""
    return address


@functools.lru_cache(maxsize=1024)
def _special_use_domain_cached(domain: str) -> str | None:
    return special_use_domain(domain)


@functools.lru_cache(maxsize=4096)
def _parse_address(
    value: str,
    *,
    what: str,
    allow_display_name: bool,
    collapse_controls: bool,
    allow_special_use: bool,
) -> Address:
    """`parse_address` for everything but a bare ASCII address, cached: a configured sender,
    display names, IDN and Unicode addresses go through email-validator here."""
    if not isinstance(value, str) or not value.strip():
        raise _invalid(what, value, "it is empty")
    if any(ch in value for ch in _FORBIDDEN):
        raise _invalid(what, value, "it contains a line break or NUL character")
    display, addr = _split_display_name(value, what)
    if display and not allow_display_name:
        raise _invalid(what, value, "a display name is not allowed here; give the bare address")
    try:
        display = check_display_name(display, collapse=collapse_controls)
    except ValueError as exc:
        raise _invalid(what, value, str(exc)) from None
    if len(addr.encode("utf-8")) > MAX_ADDRESS_OCTETS:
        raise _invalid(what, value, f"it is longer than {MAX_ADDRESS_OCTETS} octets")
    domain = addr.rpartition("@")[2]
    special = special_use_domain(domain)
    if special is not None and not allow_special_use:
        raise _invalid(what, value, special_use_reason(domain, special), special=True)
    fast = _plain_ascii(addr, display)
    if fast is not None:
        return fast
    suffix = _NEUTRAL_SUFFIX if special is not None else ""
    from email_validator import EmailNotValidError, validate_email  # see SPECIAL_USE_DOMAINS

    try:
        result = validate_email(addr + suffix, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        reworded = _reworded(str(exc), domain)
        raise _invalid(what, value, reworded, special=reworded != str(exc)) from None
    local, _, _ = result.normalized.rpartition("@")
    if len(local.encode("utf-8")) > MAX_LOCAL_OCTETS:
        raise _invalid(what, value, f"the part before @ is longer than {MAX_LOCAL_OCTETS} octets")
    unicode_domain = result.domain.removesuffix(suffix) if suffix else result.domain
    ascii_domain = result.ascii_domain.removesuffix(suffix) if suffix else result.ascii_domain
    return Address(local, unicode_domain, ascii_domain, display)


def _reworded(message: str, domain: str) -> str:
    """email-validator's special-use refusal (for spellings our own check does not see, such as
    IDNA-mapped characters) gets the same explanation as ours."""
    if "special-use" in message:
        return special_use_reason(domain, None)
    return message


def _plain_ascii(addr: str, display: str) -> Address | None:
    """The common case (ASCII dot-atom @ LDH hostname) checked by one regex; anything unusual
    goes through email-validator. Costs ~1 µs instead of ~100 µs per new address."""
    match = _PLAIN.match(addr)
    if match is None:
        return None
    local, domain = match.group(1), match.group(2).lower()
    if len(local) > MAX_LOCAL_OCTETS:
        return None
    return Address(local, domain, domain, display)


def _split_display_name(value: str, what: str) -> tuple[str, str]:
    """Split `Name <addr>`; refuse what parses as more than one mailbox (display-name tricks)."""
    text = value.strip()
    if "<" not in text and ">" not in text:
        return "", text
    pairs = getaddresses([text])
    if len(pairs) != 1 or not pairs[0][1] or "<" in pairs[0][0] or "@" in pairs[0][0]:
        raise _invalid(what, value, "it is not a single mailbox of the form `Name <user@domain>`")
    return pairs[0][0].strip(), pairs[0][1]


def _invalid(what: str, value: object, why: str, *, special: bool = False) -> ConnectorError:
    shown = repr(value)[:120]
    reason = why.split("; set `", 1)[0].rstrip(".")  # the facts, without the config advice
    return ConnectorError(
        ErrorCode.INVALID_RECIPIENT,
        f"Invalid {what} {shown}: {why.rstrip('.')}.",
        retryable=False,
        cause=Cause.SPECIAL_USE_DOMAIN if special else Cause.BAD_ADDRESS,
        reason=f"{shown}: {reason}",
    )
