"""`addresses.SPECIAL_USE_DOMAINS` is written out (so plain addresses need no email-validator
import): it must stay email-validator's list plus `example`, whatever version is installed."""

from __future__ import annotations

import email_validator

from smtp_connector.addresses import SPECIAL_USE_DOMAINS, parse_address


def test_the_list_is_email_validators_plus_example() -> None:
    expected = dict.fromkeys([*email_validator.SPECIAL_USE_DOMAIN_NAMES, "example"])
    assert set(SPECIAL_USE_DOMAINS) == set(expected)


def test_plain_and_unusual_addresses_parse_alike_after_the_lazy_import() -> None:
    assert parse_address("user@example.org").ascii_domain == "example.org"
    assert parse_address("Zoë <zoë@bücher.example.org>").ascii_domain == "xn--bcher-kva.example.org"
