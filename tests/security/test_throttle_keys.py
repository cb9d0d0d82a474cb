"""Finding 4 (MEDIUM): the per-recipient throttle was bypassed by address variants, intervals
over an hour were capped, and the in-memory store never forgot a key.

With `perRecipientHourly: 1`, `victim+1@gmail.com`, `v.ictim@gmail.com` and
`victim@googlemail.com` each got a code: one inbox, four throttle keys. Keys are now canonical
(case, `+tag`, Gmail's dots and domain alias, from a small data table).
"""

from __future__ import annotations

import pytest
from smtp_servers import MakeServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector
from smtp_connector.config import ThrottleOptions
from smtp_connector.delivery.throttle import MemoryThrottleStore, Throttle, throttle_key

VARIANTS = [
    "victim+1@gmail.com",
    "v.ictim@gmail.com",
    "victim@googlemail.com",
    "VICTIM@GMAIL.COM",
    "v.i.c.t.i.m+codes@GoogleMail.com",
]


async def test_variants_of_one_inbox_share_the_per_recipient_limit(
    make_server: MakeServer,
) -> None:
    server = make_server()
    config = config_for(server, throttle={"perRecipientHourly": 1})
    async with SmtpConnector(config) as connector:
        await connector.send("victim@gmail.com", "SignIn", {"code": "111111"})
        for variant in VARIANTS:
            with pytest.raises(ConnectorError) as info:
                await connector.send(variant, "SignIn", {"code": "222222"})
            assert info.value.code is ErrorCode.RATE_LIMITED, variant
        await connector.send("someone.else@gmail.com", "SignIn", {"code": "333333"})
    assert [m.rcpt_tos for m in server.messages] == [
        ["victim@gmail.com"],
        ["someone.else@gmail.com"],
    ]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("First.Last+news@Example.org", "first.last@example.org"),  # dots matter off Gmail
        ("first.last@gmail.com", "firstlast@gmail.com"),
        ("a+b+c@googlemail.com", "a@gmail.com"),
        ("+only@example.org", "+only@example.org"),
    ],
)
def test_canonical_keys(address: str, key: str) -> None:
    assert throttle_key(address) == key


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_intervals_over_an_hour_are_honoured() -> None:
    clock = Clock()
    throttle = Throttle(ThrottleOptions(per_recipient_interval=3 * 3600 * 1000), clock=clock)
    await throttle.acquire("ana@example.org")
    clock.now += 2 * 3600  # two hours later: still inside the three-hour interval
    with pytest.raises(ConnectorError) as info:
        await throttle.acquire("ana@example.org")
    assert info.value.code is ErrorCode.RATE_LIMITED
    assert info.value.retry_after == pytest.approx(3600, abs=1)
    clock.now += 3601
    await throttle.acquire("ana@example.org")


async def test_idle_keys_are_evicted() -> None:
    clock = Clock()
    store = MemoryThrottleStore()
    throttle = Throttle(ThrottleOptions(per_recipient_hourly=5), store=store, clock=clock)
    for index in range(5000):  # an attacker cycling through addresses
        await throttle.acquire(f"user{index}@example.org")
    assert len(store) == 5000
    clock.now += 2 * 3600  # all of them idle longer than the window
    await throttle.acquire("next@example.org")
    assert len(store) == 1
