"""`parse_address` answers a bare ASCII `local@host.tld` with one regex instead of the full
parser: for every input the answer (address or error) must be the full parser's."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError
from smtp_connector.addresses import Address, _parse_address, parse_address

FULL = _parse_address.__wrapped__  # the full parser, uncached
local = st.from_regex(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,70}", fullmatch=True)
domain = st.one_of(
    st.from_regex(r"([A-Za-z0-9-]{1,12}\.){1,3}[A-Za-z]{2,8}", fullmatch=True),
    st.sampled_from(["example.test", "x.localhost", "Mail.EXAMPLE", "host.local", "a.onion"]),
)
addresses = st.one_of(
    st.builds(lambda a, b: f"{a}@{b}", local, domain),
    st.builds(lambda a, b, pad: f"{pad}{a}@{b}{pad}", local, domain, st.sampled_from([" ", "\n"])),
    st.text(max_size=80),
)


def outcome(parse: Any, value: str, **options: Any) -> Any:
    try:
        return parse(value, what="recipient", **options)
    except ConnectorError as error:
        return (error.code, error.message)


@settings(max_examples=500, deadline=None, database=None)
@given(value=addresses, special=st.booleans(), collapse=st.booleans())
@example(value="a" * 65 + "@example.com", special=False, collapse=False)
@example(value="a@" + "b" * 250 + ".com", special=False, collapse=False)
@example(value="user@example.org\n", special=False, collapse=False)
@example(value="user@shop.test", special=False, collapse=True)
@example(value="User@Example.ORG", special=True, collapse=True)
def test_fast_path_answers_as_the_full_parser(value: str, special: bool, collapse: bool) -> None:
    options = {
        "allow_display_name": True,
        "collapse_controls": collapse,
        "allow_special_use": special,
    }
    assert outcome(parse_address, value, **options) == outcome(FULL, value, **options)


@settings(max_examples=200, deadline=None, database=None)
@given(value=st.builds(lambda a, b: f"{a}@{b}", local, domain))
def test_fast_path_builds_the_constructors_instance(value: str) -> None:
    """The plain recipient skips `Address.__init__`: the object must be the one it builds
    (fields, repr, hash, frozen, `dataclasses.replace`), not only equal to it."""
    try:
        fast = parse_address(value, allow_special_use=True)
    except ConnectorError:
        return
    built = Address(fast.local, fast.domain, fast.ascii_domain, fast.display_name)
    assert type(fast) is Address
    assert vars(fast) == vars(built)
    assert list(vars(fast)) == [field.name for field in dataclasses.fields(Address)]
    assert (repr(fast), hash(fast), fast.envelope) == (repr(built), hash(built), built.envelope)
    renamed = dataclasses.replace(built, display_name="Zoë")
    assert dataclasses.replace(fast, display_name="Zoë") == renamed
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.local = "other"  # type: ignore[misc]
