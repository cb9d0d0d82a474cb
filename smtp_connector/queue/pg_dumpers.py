"""psycopg's text dumpers of tuples and lists, escaping with `bytes.replace`.

Every announcement of new rows is a procrastinate job, deferred as an array of one composite
(`procrastinate_job_to_defer_v1[]`) whose args are the job's JSON: psycopg writes the tuple
and then the array in PostgreSQL's text syntax, escaping each `"` and `\\` of the JSON with
`re.sub` and a template — on Python 3.11 a Python call per match, six per message id (two in
the composite, four in the array around it). That was about a third of a defer's CPU in
`serve` (issue 26 §1, cProfile: ~550 µs per job of 16 ids). These subclasses write the same
bytes with two C-level replaces; they are registered on procrastinate's pool connections only
(pool_checks.py). tests/queue/test_pg_dumpers.py holds their output equal to psycopg's own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from psycopg.abc import Buffer, Transformer
from psycopg.adapt import PyFormat
from psycopg.types.array import ListDumper
from psycopg.types.composite import TupleDumper

_NEEDS_QUOTES = re.compile(rb'[",\\\s()]')  # psycopg's test for a composite's field
_ESCAPE = re.compile(rb'(["\\])')  # what psycopg's array escaping matches
_BACKSLASHED = rb"\\\1"  # the template psycopg's array escaping uses


class _ArrayEscape:
    """In place of `ListDumper._re_esc`: its `sub(rb"\\\\\\1", data)` — a backslash before
    each `"` and `\\` — as two replaces (backslashes first, so those added before quotes are
    not doubled). Any other template goes to the regex, as before."""

    @staticmethod
    def sub(template: bytes, data: Buffer) -> bytes:
        if template != _BACKSLASHED:
            return _ESCAPE.sub(template, bytes(data))
        return bytes(data).replace(b"\\", b"\\\\").replace(b'"', b'\\"')


class FastListDumper(ListDumper):
    """psycopg's text `ListDumper`, escaping elements without a Python call per match."""

    _re_esc = _ArrayEscape()  # type: ignore[assignment]


class FastTupleDumper(TupleDumper):
    """psycopg's `TupleDumper` (a record in text), escaping fields by doubling each `"` and
    `\\` with two replaces instead of `re.sub`; otherwise psycopg's `_dump_text_sequence`."""

    def dump(self, obj: tuple[Any, ...]) -> Buffer | None:
        return text_record(obj, self._tx)


def text_record(seq: Sequence[Any], tx: Transformer) -> bytes:
    """A sequence as a record in PostgreSQL's text syntax, `(a,b,…)`: None an empty field,
    an empty value `""`, a value with a quote, comma, backslash, space or parenthesis quoted
    with its quotes and backslashes doubled."""
    if not seq:
        return b"()"
    parts: list[Buffer] = [b"("]
    for item in seq:
        if item is None:
            parts.append(b",")
            continue
        ad = tx.get_dumper(item, PyFormat.TEXT).dump(item)
        if ad is None:
            ad = b""
        elif not ad:
            ad = b'""'
        elif _NEEDS_QUOTES.search(ad):
            ad = b'"' + bytes(ad).replace(b"\\", b"\\\\").replace(b'"', b'""') + b'"'
        parts.append(ad)
        parts.append(b",")
    parts[-1] = b")"
    return b"".join(parts)


# A job's shape: an array of one record holding text, a number, None and JSON with quotes.
_PROBE = [("smtp_connector.deliver", 1, None, '{"message_ids": ["a\\"b", "c d"]}', "(x,y)")]
_agrees: bool | None = None  # whether these dumpers write psycopg's bytes, checked once


def _agree_with_psycopg() -> bool:
    """Whether the dumpers above write what psycopg's own write for a job's shape. They lean
    on psycopg internals (`_re_esc`, `_tx`); a psycopg release that changes those must cost
    speed, not deferred jobs, so on any disagreement or error psycopg's own stay in place."""
    global _agrees
    if _agrees is None:
        try:
            _agrees = _dump(_PROBE, fast=True) == _dump(_PROBE, fast=False)
        except Exception:  # any failure means: keep psycopg's dumpers
            _agrees = False
    return _agrees


def _dump(value: list[Any], fast: bool) -> bytes | None:
    """`value` written in text by a fresh copy of psycopg's default adapters, with or without
    the dumpers above."""
    import psycopg
    from psycopg.adapt import AdaptersMap
    from psycopg.adapt import Transformer as Tx

    class Context:
        connection = None
        adapters = AdaptersMap(psycopg.adapters)

    if fast:
        _install(Context.adapters)
    written = Tx(Context()).get_dumper(value, PyFormat.AUTO).dump(value)
    return None if written is None else bytes(written)


def _install(adapters: Any) -> None:
    adapters.register_dumper(tuple, FastTupleDumper)
    adapters.register_dumper(list, FastListDumper)


def register(conn: Any) -> None:
    """Use the dumpers above for tuples and lists on this connection (text format, which is
    also what psycopg picks for them by default: its text list dumper is registered last),
    if they write what psycopg's own do (`_agree_with_psycopg`)."""
    if _agree_with_psycopg():
        _install(conn.adapters)
