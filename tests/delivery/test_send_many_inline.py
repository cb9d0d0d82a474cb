"""`send_many`'s inline path (the worker renders and awaits the first try's pool future itself,
no `send` or backend `send` coroutine per message) and `send`'s (the backend's `send` written
out in it) against `send` per message through the backend's `send` (`inline_send_many` and
`inline_send` False): over generated batches and server misbehaviour, all three put the same
bytes on a real aiosmtpd server, return the same results and errors in the same order, call
`on_sent`, `on_failed` and `on_progress` alike, and leave the same health."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from equal_paths import (
    MESSAGE_ID,
    PATH_TEMPLATES,
    REFUSED,
    ServerPairs,
    fixed_tokens,
    loops,
    outcome_view,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from smtp_servers import MakeServer, config_for, dead_port

from smtp_connector import ConnectorError, ErrorCode, SendResult, SmtpConnector
from smtp_connector.delivery.failover import SmtpDelivery

TEMPLATES = [
    *PATH_TEMPLATES,
    {"usageType": "SignIn", "locale": "de", "subject": "Hallo", "content": "Code: {{code}}"},
]


@pytest.fixture(autouse=True)
def _fixed_tokens() -> Iterator[None]:
    with fixed_tokens():
        yield


# send_many inline; `send` per message with the backend's `send` written out; the general way.
MODES = {"inline": (True, True), "send inline": (False, True), "general": (False, False)}


async def _send_many(
    config: dict[str, Any], mode: str, requests: list[Any], concurrency: int
) -> list[Any]:
    hooks: list[tuple[str, Any]] = []
    connector = SmtpConnector(
        config,
        on_sent=lambda result: hooks.append(("sent", outcome_view(result))),
        on_failed=lambda error: hooks.append(("failed", outcome_view(error))),
    )
    connector.inline_send_many, connector.inline_send = MODES[mode]
    async with connector:
        outcomes = await connector.send_many(
            requests,
            concurrency=concurrency,
            on_progress=lambda done, outcome: hooks.append(
                ("progress", (done, outcome_view(outcome)))
            ),
        )
        health = connector.health()
    if concurrency > 1:  # the hooks' order follows the replies' timing: compare them as sets
        counts = [what[0] for name, what in hooks if name == "progress"]
        assert counts == list(range(1, len(requests) + 1))
        hooks = sorted((name, what[1] if name == "progress" else what) for name, what in hooks)
    return [[outcome_view(outcome) for outcome in outcomes], hooks, health]


class _Servers(ServerPairs):
    """The servers of `equal_paths`, the primary answering DATA as the example says."""

    def misbehave(self, pipelining: bool, first: str, data_replies: list[str]) -> None:
        primary, _ = self.reset(pipelining, first)
        primary.behaviour.data_replies = list(data_replies)

    def received(self, pipelining: bool, ordered: bool) -> list[list[Any]]:
        found = [
            [
                (m.mail_from, m.rcpt_tos, MESSAGE_ID.sub("<fixedtoken.T@", m.content.decode()))
                for m in server.messages
            ]
            for server in self.pair(pipelining)
        ]
        return found if ordered else [sorted(messages, key=repr) for messages in found]


@pytest.fixture
def servers(make_server: MakeServer) -> _Servers:
    return _Servers(make_server)


request = st.fixed_dictionaries(
    {
        "to": st.sampled_from(
            [
                "user@example.org",
                "Ann <ann@example.org>",
                "refused@example.org",
                ["user@example.org", "refused@example.org"],
                "josé@example.org",  # SMTPUTF8
                "not an address",  # refused while rendering: on_failed, no try
            ]
        ),
        "payload": st.one_of(
            st.none(),
            st.fixed_dictionaries({"code": st.from_regex(r"[0-9]{6}", fullmatch=True)}),
            st.fixed_dictionaries({"code": st.sampled_from([".", "é", "a\r\n.\r\nb"])}),
        ),
    },
    optional={
        "usage_type": st.sampled_from(["Generic", "SignIn", "Custom"]),
        "locale": st.sampled_from(["en", "de-AT"]),
    },
)


@pytest.mark.parametrize("loop", loops(), ids=["asyncio", "uvloop"])
@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    requests=st.lists(request, min_size=1, max_size=5),
    pipelining=st.booleans(),
    data_replies=st.lists(st.sampled_from(["550 5.7.1 Refused", "451 4.3.0 Later"]), max_size=2),
    first=st.sampled_from(["ok", "down", "451 sender"]),
    attempts=st.integers(min_value=1, max_value=3),
    fast_path=st.booleans(),
    throttled=st.booleans(),
    concurrency=st.sampled_from([1, 1, 3]),
)
@example(
    requests=[{"to": "user@example.org", "payload": {"code": "123456"}}], pipelining=True,
    data_replies=[], first="ok", attempts=1, fast_path=True, throttled=False, concurrency=1,
)  # fmt: skip
@example(
    requests=[{"to": "user@example.org", "usage_type": "SignIn", "payload": {"code": "1"},
               "locale": "de"}], pipelining=True, data_replies=[], first="ok", attempts=1,
    fast_path=True, throttled=False, concurrency=1,
)  # fmt: skip
@example(
    requests=[{"to": "user@example.org", "payload": {"code": "123456"}}] * 2, pipelining=True,
    data_replies=["451 4.3.0 Try later"], first="ok", attempts=2, fast_path=True,
    throttled=False, concurrency=1,
)  # fmt: skip
def test_send_many_inline_sends_and_fails_as_send_per_message(
    servers: _Servers,
    loop: Callable[[], asyncio.AbstractEventLoop],
    requests: list[dict[str, Any]],
    pipelining: bool,
    data_replies: list[str],
    first: str,
    attempts: int,
    fast_path: bool,
    throttled: bool,
    concurrency: int,
) -> None:
    if concurrency > 1:  # which message meets a scripted DATA reply would follow the timing
        data_replies = []
    primary, failover = servers.pair(pipelining)
    config = config_for(
        dead_port() if first == "down" else primary.port,
        templates=TEMPLATES,
        retry={"attempts": attempts, "initialDelay": 1, "maxDelay": 2},
        servers=[{"host": "127.0.0.1", "port": failover.port, "priority": 1}],
    )
    if throttled:
        config["throttle"] = {"perRecipientHourly": 1000}
    outcomes, received = {}, {}
    for mode in MODES:
        servers.misbehave(pipelining, first, data_replies)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(SmtpDelivery, "fast_path", fast_path)
            with asyncio.Runner(loop_factory=loop) as runner:
                outcomes[mode] = runner.run(_send_many(config, mode, requests, concurrency))
        received[mode] = servers.received(pipelining, ordered=concurrency == 1)
    assert outcomes["inline"] == outcomes["send inline"] == outcomes["general"]
    assert received["inline"] == received["send inline"] == received["general"]


async def test_the_common_batch_runs_no_send_coroutine(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The property above would hold with no inline path at all: here a batch of common
    messages calls neither `SmtpConnector.send` nor the backend's `send`, and a batch with a
    throttle (which the inline path leaves to `send`) calls `send` once a message."""
    calls: list[str] = []
    for owner, name in ((SmtpConnector, "send"), (SmtpDelivery, "send")):
        original = getattr(owner, name)

        def counted(*args: Any, _original: Any = original, _name: str = owner.__name__) -> Any:
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(owner, name, counted)
    server = make_server(pipelining=True)
    batch = [{"to": f"u{i}@example.org", "payload": {"code": "123456"}} for i in range(6)]
    async with SmtpConnector(config_for(server, templates=TEMPLATES)) as connector:
        outcomes = await connector.send_many(batch, concurrency=3)
    assert all(isinstance(o, SendResult) for o in outcomes) and calls == []
    throttle = {"perRecipientHourly": 1000}
    config = config_for(server, templates=TEMPLATES, throttle=throttle)
    async with SmtpConnector(config) as connector:
        outcomes = await connector.send_many(batch, concurrency=3)
    assert all(isinstance(o, SendResult) for o in outcomes)
    assert sorted(set(calls)) == ["SmtpConnector", "SmtpDelivery"] and len(calls) == 12
    assert len(server.messages) == 12


async def test_a_common_send_runs_no_backend_send_coroutine(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`send` of a common message awaits the first try's future itself (the property above
    would hold without it); with a throttle, or `inline_send` off, it calls the backend's."""
    calls: list[str] = []
    original = SmtpDelivery.send

    def counted(*args: Any) -> Any:
        calls.append("SmtpDelivery")
        return original(*args)

    monkeypatch.setattr(SmtpDelivery, "send", counted)
    server = make_server(pipelining=True)
    for config, inline, expected in (
        (config_for(server, templates=TEMPLATES), True, []),
        (config_for(server, templates=TEMPLATES), False, ["SmtpDelivery"]),
        (config_for(server, templates=TEMPLATES, throttle={"perRecipientHourly": 1000}), True,
         ["SmtpDelivery"]),
    ):  # fmt: skip
        calls.clear()
        async with SmtpConnector(config) as connector:
            connector.inline_send = inline
            result = await connector.send("u@example.org", "SignIn", {"code": "123456"})
        assert isinstance(result, SendResult) and calls == expected
    assert len(server.messages) == 3


@pytest.mark.parametrize("mode", MODES)
async def test_a_first_server_the_breaker_disabled_is_passed_over_on_every_path(
    make_server: MakeServer, mode: str
) -> None:
    """The one first-try sequence's other start: once the circuit breaker has disabled the
    first server, a send skips the inline try and the rounds run from the start, on the
    failover server only. Checked against what must happen (not only path against path,
    since all three start the same way): the first message fails over, the next ones make
    one attempt, a refusal there comes back as the rounds raised it, and the hooks and the
    health say so."""
    failover = make_server(pipelining=True, reject_rcpt=REFUSED)
    dead = dead_port()
    config = config_for(
        dead,
        templates=TEMPLATES,
        retry={"attempts": 3, "initialDelay": 1, "maxDelay": 2},
        servers=[{"host": "127.0.0.1", "port": failover.port, "priority": 1}],
        health={"maxErrors": 1},
    )
    sent: list[SendResult] = []
    failed: list[ConnectorError] = []
    connector = SmtpConnector(config, on_sent=sent.append, on_failed=failed.append)
    connector.inline_send_many, connector.inline_send = MODES[mode]
    batch = [
        {"to": f"{user}@example.org", "payload": {"code": "123456"}}
        for user in ("first", "refused", "third")
    ]
    async with connector:
        first, refused, third = await connector.send_many(batch, concurrency=1)
        health = {entry["server"]: entry["status"] for entry in connector.health()}
    backup = f"127.0.0.1:{failover.port}"
    assert isinstance(first, SendResult) and isinstance(third, SendResult)
    assert [a.server for a in first.attempt_log] == [f"127.0.0.1:{dead}", backup]
    assert [a.server for a in third.attempt_log] == [backup] and third.attempts == 1
    assert isinstance(refused, ConnectorError)
    assert (refused.code, refused.smtp_code, refused.attempts, refused.server) == (
        ErrorCode.RECIPIENT_REJECTED, 550, 1, backup,
    )  # fmt: skip
    assert sent == [first, third] and failed == [refused]
    assert health == {f"127.0.0.1:{dead}": "disabled", backup: "active"}
    assert [m.rcpt_tos for m in failover.messages] == [["first@example.org"], ["third@example.org"]]
