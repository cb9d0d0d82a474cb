"""The JSON loader of the queue's own psycopg connections (queue/pg_direct.py `json_loads`):
for any bytes a JSON column could send — the texts `json.dumps` writes, the same padded with
whitespace, a BOM, invalid UTF-8, surrogates, not JSON at all — it must give what
`json.loads` gives, the error included. A claim on real PostgreSQL reads its rows' payloads
through it."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_merged_writes import new_message, open_queue

from smtp_connector.queue import pg_direct
from smtp_connector.queue.pg_direct import json_loads

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_space = st.text(" \t\r\n", max_size=2)


def _dumped(value: Any, ascii_only: bool, compact: bool, left: str, right: str) -> bytes:
    separators = (",", ":") if compact else None
    text = json.dumps(value, ensure_ascii=ascii_only, separators=separators)
    return (left + text + right).encode("utf-8", "surrogatepass")


_texts = st.builds(_dumped, _json, st.booleans(), st.booleans(), _space, _space)
_noise = st.binary(max_size=12) | st.builds(lambda b: b"\xef\xbb\xbf" + b, _texts)


def _outcome(load: Any, data: str | bytes) -> tuple[str, str]:
    """What a loader gives: the value (NaN made comparable) or the error's type and text."""
    try:
        value = load(data)
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return "value", json.dumps(value, default=repr) if not _has_nan(value) else repr(value)


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, list):
        return any(map(_has_nan, value))
    if isinstance(value, dict):
        return any(map(_has_nan, value.values()))
    return False


@given(_texts | _noise)
def test_json_loads_gives_what_json_loads_gives(data: bytes) -> None:
    assert _outcome(json_loads, data) == _outcome(json.loads, data)
    text = data.decode("utf-8", "replace")  # psycopg hands bytes; a str is read alike
    assert _outcome(json_loads, text) == _outcome(json.loads, text)


@given(_json)
def test_the_value_round_trips_as_with_json_loads(value: Any) -> None:
    data = json.dumps(value).encode()
    assert repr(json_loads(data)) == repr(json.loads(data))


async def test_a_claim_reads_payloads_through_it(
    queue_url_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bytes] = []

    def counted(data: bytes) -> Any:
        seen.append(data)
        return json_loads(data)

    monkeypatch.setattr(pg_direct, "json_loads", counted)
    queue = await open_queue(queue_url_postgres)
    try:
        news = [new_message(i) for i in range(3)]
        ids = [(await queue.outbox.enqueue(n))[0] for n in news]
        claims = await queue.outbox.claim_ids(ids, "worker-a")
        by_id = dict(zip(ids, news, strict=True))
        assert [c.payload for c in claims] == [by_id[c.id].payload for c in claims]
        assert [c.definition_ids for c in claims] == [by_id[c.id].definition_ids for c in claims]
        assert len(seen) == 6  # each claimed row's payload and definition ids
    finally:
        await queue.aclose()
