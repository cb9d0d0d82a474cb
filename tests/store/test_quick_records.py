"""A queued request's two frozen records are built without their dataclass `__init__`
(store/sending.py's `request_job`, queue/sender.py's `_new_message`): each must be the
instance the constructor builds, not only equal to it (fields and their order, eq, repr,
`dataclasses.replace`, frozen, unhashable as before)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector.queue.outbox import NewMessage
from smtp_connector.queue.sender import _new_message
from smtp_connector.store.sending import SendJob, request_job

texts = st.text(max_size=20)
maybe_text = st.none() | texts
payloads = st.dictionaries(texts, st.none() | texts | st.integers(), max_size=3)
ids = st.lists(texts, max_size=3).map(tuple)
moments = st.none() | st.datetimes(timezones=st.just(UTC))


def same_instance(fast: Any, built: Any) -> None:
    assert type(fast) is type(built)
    assert vars(fast) == vars(built)
    assert list(vars(fast)) == [field.name for field in dataclasses.fields(built)]
    assert fast == built and repr(fast) == repr(built)
    first = dataclasses.fields(built)[0].name
    assert dataclasses.replace(fast, **{first: "other"}) == dataclasses.replace(
        built, **{first: "other"}
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(fast, first, "other")
    with pytest.raises(TypeError):  # a dict field: as unhashable as the constructor's
        hash(fast)


@settings(max_examples=300, deadline=None, database=None)
@given(app=texts, to=texts, usage=texts, payload=payloads, locale=maybe_text, definitions=ids,
       key=maybe_text, digest=maybe_text, expires=moments,
       attempts=st.none() | st.integers(0, 20))  # fmt: skip
def test_request_job_is_the_constructors_job(
    app: str, to: str, usage: str, payload: dict[str, Any], locale: str | None,
    definitions: tuple[str, ...], key: str | None, digest: str | None,
    expires: datetime | None, attempts: int | None,
) -> None:  # fmt: skip
    built = SendJob(app, to, usage, payload, locale, definitions, idempotency_key=key,
                    request_hash=digest, expires_at=expires, max_attempts=attempts)  # fmt: skip
    fast = request_job(app, to, usage, payload, locale, definitions, key, digest, expires,
                       attempts)  # fmt: skip
    same_instance(fast, built)
    assert fast.payload is payload  # the request's dict, not a copy, as the constructor keeps it
    assert fast.versions is None


@settings(max_examples=300, deadline=None, database=None)
@given(app=texts, definitions=ids, to=texts, usage=texts, payload=payloads, locale=maybe_text,
       attempts=st.integers(0, 20), expires=st.floats(allow_nan=False), key=maybe_text,
       digest=maybe_text)  # fmt: skip
def test_new_message_is_the_constructors_message(
    app: str, definitions: tuple[str, ...], to: str, usage: str, payload: dict[str, Any],
    locale: str | None, attempts: int, expires: float, key: str | None, digest: str | None,
) -> None:  # fmt: skip
    built = NewMessage(app_id=app, definition_ids=definitions, recipient=to, usage_type=usage,
                       payload=payload, locale=locale, max_attempts=attempts,
                       expires_at=expires, idempotency_key=key, request_hash=digest)  # fmt: skip
    fast = _new_message(app, definitions, to, usage, payload, locale, attempts, expires, key,
                        digest)  # fmt: skip
    same_instance(fast, built)


def test_every_field_is_filled() -> None:
    """A field added to either record must be added to its quick builder too: the builder
    fills every field the dataclass declares, in order (caught here, not by a send)."""
    job = request_job("a", "t", "SignIn", {}, None, (), None, None, None, None)
    assert list(vars(job)) == [field.name for field in dataclasses.fields(SendJob)]
    new = _new_message("a", (), "t", "SignIn", {}, None, 3, 1.0, None, None)
    assert list(vars(new)) == [field.name for field in dataclasses.fields(NewMessage)]
