"""DKIM work done once per message shape instead of once per message.

A verification mail differs from the previous one in a few lines (the code, the recipient, the
Date, the Message-ID, the MIME boundary); the rest — most header fields and nearly every body
line — is the template's, byte for byte. So the signer keeps:
- the canonical form of each header field and body line it has seen (dkimpy's canonicalization
  is regular-expression work over the whole message, most of a signature's cost for Ed25519),
  in bounded dicts: static ones hit, per-message ones are computed and dropped with the rest
  when the dict is full;
- per key and list of field names (the shape of the header block): the fields `h=` selects, and
  the folded `DKIM-Signature` field (and its canonical form) with holes for `t=` and `bh=` —
  their lengths are fixed (a 10-digit time, a SHA-256 in base64), so the folding is too.
Everything is keyed by content, so a cache can never hand one message another's bytes; the
equalities with dkimpy's own functions are proven in tests/signing/test_dkim_shapes.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .common import CRLF, HeaderField

MAX_ENTRIES = 4096  # lines or fields kept; when full the dict starts again (a new template)
_WSP = re.compile(rb"[\t ]+")
_T_HOLE, _BH_HOLE = b"\x00", b"\x01"  # never in a folded field: names, domains are ASCII text


class Canonicalizer:
    """One canonicalization (`relaxed/relaxed`, …) with its caches; safe across threads (each
    dict operation is atomic, and a lost entry is only computed again)."""

    def __init__(self, policy: Any) -> None:
        from dkim.canonicalization import correct_empty_body, strip_trailing_lines

        self._policy = policy
        self._relaxed_body = policy.body_algorithm.name == b"relaxed"
        self._relaxed_header = policy.header_algorithm.name == b"relaxed"
        self._tail: Callable[[bytes], bytes] = lambda body: correct_empty_body(
            strip_trailing_lines(body)
        )
        self._fields: dict[bytes, bytes] = {}
        self._lines: dict[bytes, bytes] = {}

    def body(self, body: bytes) -> bytes:
        """`policy.canonicalize_body(body)`, line by line for relaxed: its whitespace rules are
        line-local (no run of WSP spans a CRLF), only the trailing empty lines are global."""
        if not self._relaxed_body:
            return bytes(self._policy.canonicalize_body(body))  # simple: trailing lines only
        lines = body.split(CRLF)
        last = lines.pop()
        cache = self._lines
        missing = set(lines).difference(cache)  # the message's own lines (code, boundary)
        if len(cache) + len(missing) > MAX_ENTRIES:
            cache.clear()
            missing = set(lines)
        for line in missing:
            cache[line] = _relaxed_line(line.rstrip(b" \t"))
        out = list(map(cache.get, lines))
        if None in out:  # cleared meanwhile by another thread's message
            out = [_relaxed_line(line.rstrip(b" \t")) for line in lines]
        joined = CRLF.join(out) + CRLF if out else b""  # type: ignore[arg-type]
        return self._tail(joined + _relaxed_line(last))

    def fields(self, fields: Sequence[HeaderField]) -> list[bytes]:
        """Each field as it is hashed, `name:value` in canonical form (CRLF-terminated)."""
        cache = self._fields
        relaxed = self._relaxed_header
        out = []
        for field in fields:
            canonical = cache.get(field.raw)
            if canonical is None:
                if relaxed:
                    canonical = relaxed_field(field.name, field.value)
                else:
                    canonical = field.name + b":" + field.value
                if len(cache) >= MAX_ENTRIES:
                    cache.clear()
                cache[field.raw] = canonical
            out.append(canonical)
        return out


def _relaxed_line(line: bytes) -> bytes:
    """Runs of WSP made one space (the regular expression only when there is such a run)."""
    return _WSP.sub(b" ", line) if b"\t" in line or b"  " in line else line


def relaxed_field(name: bytes, value: bytes) -> bytes:
    """RFC 6376 §3.4.2 as dkimpy does it: name lower-cased, value unfolded (CRLF and bare LF
    removed), WSP runs made one space, trimmed, CRLF-terminated."""
    unfolded = value.replace(CRLF, b"").replace(b"\n", b"")
    return name.lower().rstrip() + b":" + _relaxed_line(unfolded).strip() + CRLF


@dataclass(frozen=True)
class HeadShape:
    """One key's `DKIM-Signature` for one list of field names, with holes for t= and bh=."""

    selected: tuple[int, ...]  # the fields `h=` signs, by position, in `h=` order
    head: tuple[bytes, bytes, bytes]  # folded field value: before t, between t and bh, after
    own: tuple[bytes, bytes, bytes]  # its canonical `name:value` without b=, same holes
    column: int  # where b='s value starts on its line (for folding the signature)

    def field(self, now: bytes, body_hash: bytes) -> bytes:
        before, middle, after = self.head
        return before + now + middle + body_hash + after

    def signed(self, canonical: list[bytes], now: bytes, body_hash: bytes) -> bytes:
        """The bytes the key signs: the selected fields, then this field with b= empty."""
        before, middle, after = self.own
        return b"".join([*[canonical[i] for i in self.selected], before, now, middle,
                         body_hash, after])  # fmt: skip


def head_shape(
    names: Sequence[bytes],
    signed_names: Sequence[bytes],
    fold: Callable[[bytes, bytes], bytes],
    canonicalize_own: Callable[[bytes], bytes],
    time_length: int,
    hash_length: int,
) -> HeadShape:
    """Build the shape: `fold(t, bh)` folds the field's value, `canonicalize_own` gives the
    canonical `name:value` of a `DKIM-Signature` value; both are run once, on holes."""
    t_hole, bh_hole = _T_HOLE * time_length, _BH_HOLE * hash_length
    head = fold(t_hole, bh_hole)
    own = canonicalize_own(head)
    last_line = head.rsplit(CRLF, 1)
    column = len(last_line[-1]) + (len(b"DKIM-Signature: ") if len(last_line) == 1 else 0)
    return HeadShape(
        selected=tuple(select(names, signed_names)),
        head=_holes(head, t_hole, bh_hole),
        own=_holes(own, t_hole, bh_hole),
        column=column,
    )


def _holes(value: bytes, t_hole: bytes, bh_hole: bytes) -> tuple[bytes, bytes, bytes]:
    before, rest = value.split(t_hole)
    middle, after = rest.split(bh_hole)
    return before, middle, after


def select(names: Sequence[bytes], wanted: Sequence[bytes]) -> list[int]:
    """RFC 6376 §5.4.2: each listed name takes the next instance from the bottom up (`names`
    are the fields' lower-cased names); a name listed more often than present selects nothing
    (what over-signing relies on). Positions, in `wanted` order."""
    used: dict[bytes, int] = {}
    selected = []
    for name in wanted:
        index = used.get(name, len(names))
        while index > 0:
            index -= 1
            if names[index] == name:
                selected.append(index)
                break
        used[name] = index
    return selected
