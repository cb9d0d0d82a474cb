"""The per-message records the wire path builds without their `__init__` (`Job` in the pool,
`Delivery` from a final reply, the chain's `_Sent`, the succeeded `AttemptRecord` and the
`SendResult`):
taken from real sends through a pipelining aiosmtpd server, each is what its `__init__` builds
from the same values: every field stored on the instance, in the same order, equal and with
the same repr."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from smtp_servers import MakeServer, config_for

from smtp_connector import SendResult, SmtpConnector
from smtp_connector.delivery import chain
from smtp_connector.delivery.pool import ServerPool
from smtp_connector.delivery.sender import Sender
from smtp_connector.delivery.transaction import Delivery, Job
from smtp_connector.results import AttemptRecord


def _as_built_by_init(built: Any) -> None:
    cls = type(built)
    fields = dataclasses.fields(cls)
    again = cls(**{f.name: getattr(built, f.name) for f in fields if f.init})
    for field in fields:
        if not field.init:
            setattr(again, field.name, getattr(built, field.name))
    if hasattr(built, "__dict__"):  # stored on the instance, not read from a class default
        assert list(vars(built).items()) == list(vars(again).items())
    else:  # slots: each one set (an unset slot raises here)
        assert [getattr(built, f.name) for f in fields] == [getattr(again, f.name) for f in fields]
    assert repr(built) == repr(again)
    if cls.__eq__ is not object.__eq__:
        assert built == again


@pytest.mark.parametrize("pipelining", [True, False])
async def test_the_records_of_a_send_are_what_their_init_builds(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch, pipelining: bool
) -> None:
    server = make_server(pipelining=pipelining)
    jobs: list[Job] = []
    deliveries: list[Delivery] = []
    sents: list[Any] = []
    take, settle, final_reply = ServerPool.take, Sender._settle, chain._Sent.final_reply

    def taken(self: ServerPool) -> Job | None:
        job = take(self)
        if job is not None:
            _as_built_by_init(job)  # as queued: before the sender marks it
            jobs.append(job)
        return job

    def settled(self: Sender, job: Job, outcome: Any) -> None:
        if isinstance(outcome, Delivery) and outcome.pipelined:  # from a final reply
            deliveries.append(outcome)
        settle(self, job, outcome)

    def replied(sent: Any, reply: Any) -> None:
        if not sent.settled:  # as made by the chain, before its final reply settles it
            again = chain._Sent(sent.job, sent.payload, sent.accepted, sent.rejected,
                                sent.session, sent.settle)  # fmt: skip
            sents.append([getattr(sent, name) for name in chain._Sent.__slots__])
            assert sents[-1] == [getattr(again, name) for name in chain._Sent.__slots__]
        final_reply(sent, reply)

    monkeypatch.setattr(ServerPool, "take", taken)
    monkeypatch.setattr(Sender, "_settle", settled)
    monkeypatch.setattr(chain._Sent, "final_reply", replied)
    requests = [
        {"to": f"user{i}@example.org", "usage_type": "SignIn", "payload": {"code": f"{i:06d}"}}
        for i in range(6)
    ]
    async with SmtpConnector(config_for(server, pool={"maxConnections": 2})) as connector:
        # bounded: a record missing a slot breaks its sender task, and the send would wait
        results = await asyncio.wait_for(connector.send_many(requests, concurrency=4), 30)
        one = connector.send("one@example.org", "SignIn", {"code": "123456"})
        results.append(await asyncio.wait_for(one, 30))
    assert len(server.messages) == 7
    assert all(isinstance(result, SendResult) for result in results)
    assert len(jobs) == 7 and len(deliveries) == (7 if pipelining else 0)
    assert len(sents) == (7 if pipelining else 0)
    for result in results:
        assert isinstance(result, SendResult)
        _as_built_by_init(result)
        assert isinstance(result.attempt_log[0], AttemptRecord)
        _as_built_by_init(result.attempt_log[0])
    for delivery in deliveries:
        assert isinstance(delivery, Delivery)
        _as_built_by_init(delivery)
