"""The delivery fast path (`SmtpDelivery.send`'s inline first try on an active first server)
against the full rounds it stands for (`fast_path = False`): over generated configs, messages
and server misbehaviour, both put the same bytes on a real aiosmtpd server, return the same
`SendResult` fields, raise the same errors (code, stage, retryable, SMTP code, message,
attempts) and fail over alike when the first server fails; the caller's before-DATA checkpoint
runs as often on both."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from equal_paths import PATH_TEMPLATES, ServerPairs, fixed_tokens, loops, outcome_view, stamp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from smtp_servers import MakeServer, config_for, dead_port

from smtp_connector import SendResult, SmtpConnector
from smtp_connector.delivery.checkpoint import before_message_data

TEMPLATES = PATH_TEMPLATES


@pytest.fixture(autouse=True)
def _fixed_tokens() -> Iterator[None]:
    with fixed_tokens():
        yield


async def _send(config: dict[str, Any], fast: bool, requests: list[dict[str, Any]]) -> list[Any]:
    calls: list[int] = []

    async def checkpoint() -> None:
        calls.append(1)
        if config.get("refuse_checkpoint"):
            raise RuntimeError("the outbox is read-only")

    settings_only = {k: v for k, v in config.items() if k != "refuse_checkpoint"}
    async with SmtpConnector(settings_only) as connector:
        connector._backend.fast_path = fast  # type: ignore[union-attr]
        with before_message_data(checkpoint):
            outcomes = await connector.send_many(requests, concurrency=1)
        health = connector.health()
    return [*(outcome_view(o) for o in outcomes), len(calls), health]


recipients = st.lists(
    st.sampled_from(
        [
            "user@example.org",
            "Ann <ann@example.org>",
            "refused@example.org",
            "later@example.org",
            "josé@example.org",  # a non-ASCII local part: SMTPUTF8
        ]
    ),
    min_size=1,
    max_size=3,
    unique=True,
)
codes = st.one_of(
    st.from_regex(r"[0-9]{6}", fullmatch=True),
    st.text(min_size=1, max_size=20),
    st.sampled_from([".", ".x", "a\r\n.\r\nb", "é"]),
)


class _Servers(ServerPairs):
    """The servers of `equal_paths`, each path's sends finding the same misbehaviour set up."""

    def misbehave(self, pipelining: bool, first: str, data_reply: str | None) -> None:
        for server in self.reset(pipelining, first):
            server.behaviour.data_replies = [data_reply] if data_reply else []

    def received(self, pipelining: bool) -> list[list[tuple[Any, ...]]]:
        return [
            [(m.mail_from, m.rcpt_tos, stamp(m.content), m.mail_options) for m in server.messages]
            for server in self.pair(pipelining)
        ]


@pytest.fixture
def servers(make_server: MakeServer) -> _Servers:
    return _Servers(make_server)


@pytest.mark.parametrize("loop", loops(), ids=["asyncio", "uvloop"])
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    to=recipients,
    code=codes,
    usage=st.sampled_from(["Generic", "SignIn"]),
    pipelining=st.booleans(),
    data_reply=st.sampled_from([None, "550 5.7.1 Refused", "451 4.3.0 Try later"]),
    first=st.sampled_from(["ok", "down", "451 sender"]),
    attempts=st.integers(min_value=1, max_value=3),
    refuse_checkpoint=st.booleans(),
)
@example(
    to=["user@example.org"], code="123456", usage="Generic", pipelining=True, data_reply=None,
    first="ok", attempts=1, refuse_checkpoint=False,
)  # fmt: skip
@example(
    to=["user@example.org"], code="123456", usage="Generic", pipelining=True, data_reply=None,
    first="down", attempts=2, refuse_checkpoint=False,
)  # fmt: skip
def test_the_fast_path_sends_and_fails_as_the_full_path(
    servers: _Servers,
    loop: Callable[[], asyncio.AbstractEventLoop],
    to: list[str],
    code: str,
    usage: str,
    pipelining: bool,
    data_reply: str | None,
    first: str,
    attempts: int,
    refuse_checkpoint: bool,
) -> None:
    primary, failover = servers.pair(pipelining)
    config = config_for(
        dead_port() if first == "down" else primary.port,
        templates=TEMPLATES,
        retry={"attempts": attempts, "initialDelay": 1, "maxDelay": 2},
        servers=[{"host": "127.0.0.1", "port": failover.port, "priority": 1}],
        refuse_checkpoint=refuse_checkpoint,
    )
    requests = [
        {"to": to, "usage_type": usage, "payload": {"code": code}},
        {"to": "user@example.org", "usage_type": usage, "payload": {"code": "000111"}},
    ]
    outcomes, received = {}, {}
    for fast in (True, False):
        servers.misbehave(pipelining, first, data_reply)
        with asyncio.Runner(loop_factory=loop) as runner:
            outcomes[fast] = runner.run(_send(config, fast, requests))
        received[fast] = servers.received(pipelining)
    assert outcomes[True] == outcomes[False]
    assert received[True] == received[False]
    if first == "ok" and not refuse_checkpoint and data_reply is None:
        assert received[True][0], "the common case went out on the primary"


async def test_a_first_try_that_succeeds_takes_no_round(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The common case really is the fast path (the property above would pass with none), and
    a failed first try really goes on to the rounds (failover)."""
    from smtp_connector.delivery.failover import SmtpDelivery

    rounds: list[int] = []
    original = SmtpDelivery._rounds

    async def counted(self: SmtpDelivery, *args: Any) -> SendResult:
        rounds.append(1)
        return await original(self, *args)

    monkeypatch.setattr(SmtpDelivery, "_rounds", counted)
    primary, failover = make_server(pipelining=True), make_server(pipelining=True)
    servers = [{"host": "127.0.0.1", "port": failover.port, "priority": 1}]
    config = config_for(primary, templates=TEMPLATES, servers=servers, retry={"attempts": 2})
    async with SmtpConnector(config) as sender:
        result = await sender.send("user@example.org", "Generic", {"code": "123456"})
        assert (result.server, result.attempts, rounds) == (f"127.0.0.1:{primary.port}", 1, [])
        primary.behaviour.reject_sender = {"noreply@example.com": "451 4.7.1 Slow down"}
        result = await sender.send("user@example.org", "Generic", {"code": "123456"})
        assert (result.server, result.attempts, rounds) == (f"127.0.0.1:{failover.port}", 2, [1])
    assert len(primary.messages) == 1 and len(failover.messages) == 1


async def test_send_many_reads_dicts_as_it_reads_send_requests(make_server: MakeServer) -> None:
    """send_many no longer builds a SendRequest per dict: the same messages go out for dicts,
    SendRequests and other mappings, and a malformed item still fails before anything is sent."""
    from types import MappingProxyType

    from smtp_connector import SendRequest

    server = make_server(pipelining=True)
    shapes: list[Any] = [
        {"to": "a@example.org", "usage_type": "Generic", "payload": {"code": "111111"}},
        SendRequest(to="a@example.org", usage_type="Generic", payload={"code": "111111"}),
        MappingProxyType({"to": "a@example.org", "payload": {"code": "111111"}}),
        {"to": "b@example.org", "payload": None, "locale": "en"},
    ]
    async with SmtpConnector(config_for(server, templates=TEMPLATES)) as connector:
        outcomes = await connector.send_many(shapes, concurrency=2)
        assert all(isinstance(o, SendResult) for o in outcomes), outcomes
        for bad in ({"to": "c@example.org", "payload": {}, "colour": "red"}, {"payload": {}}):
            with pytest.raises(TypeError):
                await connector.send_many([shapes[0], bad])
    contents = [stamp(m.content) for m in server.messages]
    assert len(contents) == 4  # nothing of the malformed batches went out
    assert contents[0] == contents[1] == contents[2]
    assert b"Code" in contents[3] and b"b@example.org" in contents[3]
