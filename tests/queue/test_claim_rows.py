"""A claimed SQLite row as a `Claim` (queue/sqlite_outbox.py `_claim`): built positionally,
its payload the dict its JSON was read into (no copy), its definition ids remembered by their
JSON text, `started` the claim's own moment. For any row it must be the `Claim` the general
construction gives (`tuple(json.loads(ids) or ())`, `dict(json.loads(payload) or {})`, the
same errors), claims from one text must share nothing mutable, and the attempt judges expiry
at that moment instead of reading the clock again (queue/worker.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from hypothesis import example, given
from hypothesis import strategies as st
from queue_support import sqlite_outbox_in

from smtp_connector.queue import sqlite_outbox
from smtp_connector.queue.outbox import Claim, NewMessage
from smtp_connector.queue.policy import RetryPolicy
from smtp_connector.store import SendJob, SendOutcome

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4)
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=8,
)  # fmt: skip
_ids = st.lists(st.text(max_size=6), max_size=3) | _json
_pairs = st.lists(st.tuples(st.text(max_size=3), _json).map(list), max_size=3)
_payload = st.dictionaries(st.text(max_size=5), _json, max_size=4) | _pairs | _json


def _general(row: tuple[Any, ...], worker_id: str, now: float) -> Claim:
    """The claim as it was built before (keywords, json.loads, copies), `started` given."""
    (id_, app_id, ids, recipient, usage_type, payload, locale, attempts, max_attempts,
     expires_at, _) = row  # fmt: skip
    definitions = json.loads(ids) if ids is not None else None
    content = json.loads(payload) if payload is not None else None
    return Claim(
        id=id_, app_id=app_id, definition_ids=tuple(definitions or ()), recipient=recipient,
        usage_type=usage_type, payload=dict(content or {}), locale=locale, attempt=attempts,
        max_attempts=max_attempts, expires_at=expires_at, worker_id=worker_id, started=now,
    )  # fmt: skip


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as exc:  # the same type of error for both constructions
        return "error", type(exc)


# Found by CI: ids and payload both broken; the ids' error came second (a ValueError for a
# TypeError).
@example(ids="1", payload='"0"', locale=None, now=0.0)
@given(ids=st.none() | _ids.map(json.dumps), payload=st.none() | _payload.map(json.dumps),
       locale=st.none() | st.just("de"), now=st.floats(0, 1e10))  # fmt: skip
def test_a_claimed_row_is_the_claim_the_general_construction_gives(
    ids: str | None, payload: str | None, locale: str | None, now: float
) -> None:
    row = ("0" * 32, "app", ids, "u@example.org", "SignIn", payload, locale, 1, 5, 2e9, 7)
    want = _outcome(lambda: _general(row, "w@h:1:abc", now))
    for _ in range(2):  # the second from the remembered definition ids
        got = _outcome(lambda: sqlite_outbox._claim(row, "w@h:1:abc", now))
        assert got == want
        if got[0] == "ok":  # the rowid read with the row, outside the claim's identity
            assert got[1].row == 7 and want[1].row is None


def test_claims_of_one_row_share_nothing_mutable() -> None:
    row = ("0" * 32, "app", '[["d1"], "d2"]', "u@x.org", "SignIn", '{"a": [1]}', None, 1, 5, 2e9,
           1)  # fmt: skip
    first = sqlite_outbox._claim(row, "w", 1.0)
    first.payload["a"].append(2)
    first.definition_ids[0].append("changed")
    second = sqlite_outbox._claim(row, "w", 1.0)
    assert second.payload == {"a": [1]} and second.definition_ids == (["d1"], "d2")


def test_the_remembered_definition_ids_stay_bounded() -> None:
    for i in range(sqlite_outbox._DEFINITIONS_KEPT * 2 + 1):
        assert sqlite_outbox._definitions(json.dumps([f"d{i}"])) == (f"d{i}",)
        assert len(sqlite_outbox._DEFINITIONS) <= sqlite_outbox._DEFINITIONS_KEPT


@pytest.mark.parametrize("expired", [True, False])
async def test_the_attempt_judges_expiry_at_its_claims_moment(
    tmp_path: Path, expired: bool
) -> None:
    """Expiry is judged at `Claim.started` (the claim's clock reading), not by a clock read of
    its own: a claim taken at 1,000 for a message expiring at 2,000 is sent, though the wall
    clock is long past both; one expiring at its claim's moment is abandoned unsent."""
    from smtp_connector.queue.worker import Deliverer

    box = sqlite_outbox_in(tmp_path)
    sent: list[SendJob] = []

    async def deliver_now(job: SendJob) -> SendOutcome:
        sent.append(job)
        return SendOutcome("sent")

    try:
        await box.enqueue(NewMessage("app", ("d1",), "u@x.org", "SignIn", {"code": "1"}, None,
                                     3, 9_999_999_999.0))  # fmt: skip
        (claim,) = await box.claim_due("w", 1)
        claim.started, claim.expires_at = 1_000.0, 1_000.0 if expired else 2_000.0
        end = await Deliverer(box, deliver_now, RetryPolicy()).attempt(claim)
        assert end is not None
        assert (end.status, len(sent)) == (("abandoned", 0) if expired else ("sent", 1))
        assert (await box.get(claim.id)).status == end.status
    finally:
        await box.db.dispose()
