"""The tuple and list dumpers of procrastinate's pool connections (queue/pg_dumpers.py) must
write exactly the bytes psycopg's own text dumpers write, for any mix of text (quotes,
backslashes, spaces, commas, parentheses), numbers, None, JSON and nesting — and a job
deferred through them must be the job procrastinate stores without them."""

from __future__ import annotations

from typing import Any

import psycopg
from hypothesis import given
from hypothesis import strategies as st
from psycopg.adapt import AdaptersMap, PyFormat, Transformer
from psycopg.types.array import ListDumper
from psycopg.types.composite import TupleDumper
from psycopg.types.json import Jsonb

from smtp_connector.queue import pg_dumpers
from smtp_connector.queue.distributed import DELIVER_TASK, QUEUE_NAME, ProcrastinateEngine, conninfo

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
_scalar = st.none() | _text | st.integers() | st.sampled_from(['"', "\\", '\\"', "", " ", "()"])
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
).map(lambda value: Jsonb({"value": value}))
_field = _scalar | _json
_record = st.tuples() | st.lists(_field, max_size=6).map(tuple)


class _Context:
    """A connection's adapters without a connection: psycopg's defaults, copied."""

    connection = None

    def __init__(self, fast: bool) -> None:
        self.adapters = AdaptersMap(psycopg.adapters)
        if fast:
            pg_dumpers.register(self)


def _written(value: Any, fast: bool) -> bytes | None:
    """What psycopg writes for `value` in text, with psycopg's dumpers or these."""
    tx = Transformer(_Context(fast))
    dumper = tx.get_dumper(value, PyFormat.AUTO)
    expected = pg_dumpers.FastListDumper if isinstance(value, list) else pg_dumpers.FastTupleDumper
    assert isinstance(dumper, expected) == fast
    assert isinstance(dumper, ListDumper if isinstance(value, list) else TupleDumper)
    written = dumper.dump(value)
    return None if written is None else bytes(written)


@given(_record)
def test_a_record_is_written_as_psycopg_writes_it(record: tuple[Any, ...]) -> None:
    assert _written(record, fast=True) == _written(record, fast=False)


@given(st.lists(_record, min_size=1, max_size=3) | st.lists(_text | st.none(), min_size=1))
def test_an_array_is_written_as_psycopg_writes_it(items: list[Any]) -> None:
    assert _written(items, fast=True) == _written(items, fast=False)


def test_another_template_goes_to_the_regex() -> None:
    escape = pg_dumpers._ArrayEscape()
    assert escape.sub(rb"<\1>", b'a"b\\c') == b'a<">b<\\>c'
    assert escape.sub(rb"\\\1", b'a"b\\c') == b'a\\"b\\\\c'


async def test_a_deferred_job_is_stored_as_without_them(queue_url_postgres: str) -> None:
    from test_merged_writes import open_queue

    queue = await open_queue(queue_url_postgres)
    engine = ProcrastinateEngine(queue_url_postgres, queue.outbox)
    try:
        await engine.apply_schema()
        ids = ['a"b', "c\\d", "e f", "(g,h)", "0" * 32]
        await engine._announce(ids)
        plain = await psycopg.AsyncConnection.connect(conninfo(queue_url_postgres), autocommit=True)
        async with plain:
            await plain.execute(
                "SELECT procrastinate_defer_jobs_v1(%s::procrastinate_job_to_defer_v1[])",
                [[(QUEUE_NAME, DELIVER_TASK, 0, None, None,
                   Jsonb({"message_ids": ids}), None)]],
            )  # fmt: skip
            cursor = await plain.execute(
                "SELECT queue_name, task_name, priority, lock, queueing_lock, args::text, "
                "scheduled_at FROM procrastinate_jobs WHERE task_name = %s ORDER BY id",
                [DELIVER_TASK],
            )
            through_them, without = await cursor.fetchall()
        assert through_them == without
    finally:
        await engine.aclose()
        await queue.aclose()


def _broken_record(seq: Any, tx: Any) -> bytes:
    return b"(changed)"


def _raising_record(seq: Any, tx: Any) -> bytes:
    raise AttributeError("'TupleDumper' object has no attribute '_tx'")  # a psycopg upgrade


def test_dumpers_that_disagree_with_psycopg_are_not_used(monkeypatch: Any) -> None:
    """A psycopg release that changes the internals these dumpers lean on must cost speed,
    not deferred jobs: when they do not write psycopg's bytes (or fail), psycopg's stay."""
    for broken in (_broken_record, _raising_record):
        monkeypatch.setattr(pg_dumpers, "_agrees", None)
        monkeypatch.setattr(pg_dumpers, "text_record", broken)
        context = _Context(fast=True)  # register() checks, finds the difference, installs none
        dumper = Transformer(context).get_dumper(("a", 1), PyFormat.AUTO)
        assert type(dumper) is not pg_dumpers.FastTupleDumper
        assert bytes(dumper.dump(("a", 1))) == b"(a,1)"
    monkeypatch.setattr(pg_dumpers, "_agrees", None)
    monkeypatch.undo()
    assert pg_dumpers._agree_with_psycopg()
