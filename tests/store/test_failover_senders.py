"""A config checks each distinct failover `defaultFromEmail` once (models.py
`_servers_special_use`): an app's 40 failover definitions mostly send as the app, and the
check ran at every connector rebuild, in the build thread. Checked once or per server, a
config must be refused exactly when some server's address fails on its own, naming the
first such server, as checking each one gives."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConfig
from smtp_connector.config.base import CausedValueError, check_address

# Well-formed (a malformed one is refused by the server entry's own check), some special-use.
ADDRESSES = st.sampled_from(
    ["codes@example.com", "ops@mail.example.org", "x@localhost", "Shop <codes@example.com>",
     "a@b.invalid", "c@printer.local", "Shop <x@localhost>"]
)  # fmt: skip


def first_refusal(addresses: list[str | None]) -> str | None:
    """What checking each server's address on its own gives: the first refusal's text."""
    for index, address in enumerate(addresses):
        if address is None:
            continue
        try:
            check_address(address, f"servers[{index}].defaultFromEmail")
        except CausedValueError as error:
            return str(error)
    return None


@settings(max_examples=300, deadline=None)
@given(
    addresses=st.lists(st.none() | ADDRESSES, min_size=1, max_size=6),
    allow=st.booleans(),
)
def test_each_distinct_sender_checked_once_as_each_one(
    addresses: list[str | None], allow: bool
) -> None:
    servers: list[dict[str, Any]] = [
        {"host": f"s{n}.example.org"} | ({"defaultFromEmail": a} if a is not None else {})
        for n, a in enumerate(addresses)
    ]
    data = {"host": "127.0.0.1", "fromEmail": "noreply@example.com",
            "allowSpecialUseDomains": allow, "servers": servers}  # fmt: skip
    try:
        SmtpConfig.model_validate(data)
        refused = None
    except ConnectorError as error:
        refused = error.message
    expected = None if allow else first_refusal(addresses)
    if expected is None:
        assert refused is None or "defaultFromEmail" not in refused
    else:
        assert refused is not None and expected in refused
