"""The network policy and the canonical host form, case by case (store/network.py); the
real-serve tests in tests/server/test_attack_network.py prove they are applied."""

from __future__ import annotations

import ipaddress

import pytest

from smtp_connector import ConnectorError
from smtp_connector.store.network import NetworkPolicy, canonical_host

REFUSED_BY_DEFAULT = [
    "127.0.0.1", "127.255.0.9", "0.0.0.0", "::", "::1", "169.254.169.254", "169.254.0.1",
    "fe80::1", "100.100.100.200", "fd00:ec2::254", "224.0.0.1", "ff02::1", "240.0.0.1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1", "192.0.2.1",
]  # fmt: skip
PRIVATE = ["10.0.0.1", "172.16.5.4", "192.168.1.10", "100.64.0.1", "fd12:3456::1"]
PUBLIC = ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


def refusal(policy: str, address: str) -> str | None:
    return NetworkPolicy.parse(policy).refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", REFUSED_BY_DEFAULT)
def test_this_machine_and_metadata_are_refused_unless_any(address: str) -> None:
    for policy in ("", "private", "public"):
        assert refusal(policy, address) is not None, (policy, address)
    assert refusal("any", address) is None


@pytest.mark.parametrize("address", PRIVATE)
def test_private_ranges_follow_the_base(address: str) -> None:
    assert refusal("private", address) is None
    assert "private address" in (refusal("public", address) or "")


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed_by_every_base(address: str) -> None:
    for policy in ("private", "public", "any"):
        assert refusal(policy, address) is None


def test_explicit_entries_win_and_the_longest_prefix_decides() -> None:
    policy = "private,-10.0.0.0/8,+10.1.0.0/16,+127.0.0.1/32"
    assert refusal(policy, "10.2.0.1") is not None
    assert refusal(policy, "10.1.2.3") is None
    assert refusal(policy, "127.0.0.1") is None and refusal(policy, "127.0.0.2") is not None
    assert refusal("any,-192.168.0.0/16", "192.168.1.1") is not None


@pytest.mark.parametrize("raw", ["privat", "+10.0.0.0/33", "-not-a-net", "public;any"])
def test_a_bad_policy_is_named(raw: str) -> None:
    with pytest.raises(ConnectorError) as info:
        NetworkPolicy.parse(raw)
    assert "SMTP_CONNECTOR_NETWORK_POLICY" in info.value.message


@pytest.mark.parametrize(
    "name", ["localhost", "metadata.google.internal", "x.localhost", "db.internal"]
)
def test_names_for_this_machine_are_refused_without_resolving(name: str) -> None:
    with pytest.raises(ConnectorError):
        NetworkPolicy.parse("private").check_name(canonical_host(name))
    NetworkPolicy.parse("any").check_name(canonical_host(name))


async def test_every_resolved_address_is_checked() -> None:
    """`localhost.` resolves to loopback: refused even though it is not an IP literal."""
    with pytest.raises(ConnectorError) as info:
        await NetworkPolicy.parse("private").check_host("localhost")
    assert "`host`" in info.value.message
    await NetworkPolicy.parse("private").check_host("no-such-host.invalid")  # unresolved: later


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("Mail.Example.ORG.", "mail.example.org"), ("бюро.example", "xn--90a0af9c.example"),
     ("::FFFF:10.0.0.1", "::ffff:a00:1"), (" 192.168.001.1 ", None), ("10.0.0.1", "10.0.0.1"),
     ("straße.example", "xn--strae-oqa.example"), ("a_b.example", None)],
)  # fmt: skip
def test_canonical_host(given: str, canonical: str | None) -> None:
    if canonical is None:
        with pytest.raises(ConnectorError):
            canonical_host(given)
    else:
        assert canonical_host(given) == canonical
