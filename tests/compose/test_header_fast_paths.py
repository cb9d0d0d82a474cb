"""The address headers' shortcuts (wire-11) held to the general code they skip, over generated
addresses: a mailbox without a display name is its address as before (no name check), and a
one-mailbox header is the line the list code wrote (a fold only ever goes between mailboxes),
for ASCII and IDN domains, UTF-8 or not, with names of every kind, quoted or encoded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smtp_connector.addresses import Address, check_display_name
from smtp_connector.compose import headers
from smtp_connector.compose.headers import address_header, format_mailbox


def _general_mailbox(address: Address, *, utf8: bool = False) -> str:
    """`format_mailbox` before the shortcut: every name through `check_display_name`."""
    domain = address.domain if utf8 else address.ascii_domain
    spec = f"{address.local}@{domain}"
    name = check_display_name(address.display_name, collapse=True)
    if not name:
        return spec
    return format_mailbox(Address(address.local, address.domain, address.ascii_domain, name),
                          utf8=utf8)  # fmt: skip


def _general_header(name: str, addresses: list[Address], utf8: bool) -> str:
    """`address_header` before the shortcut: the list code for every count."""
    mailboxes = [_general_mailbox(address, utf8=utf8) for address in addresses]
    joined = ", ".join(mailboxes)
    if len(name) + len(joined) + 2 <= 78:
        return f"{name}: {joined}"
    return f"{name}: " + ("," + headers.CRLF + " ").join(mailboxes)


names = st.one_of(
    st.just(""),
    st.sampled_from(["Ann", "Ann B.", 'Ann "A" B', "José", "Ann\tB", "\x00", " ", "=?x?="]),
    st.text(max_size=90),
)
addresses = st.builds(
    lambda local, domain, name: Address(local, domain[0], domain[1], name),
    st.sampled_from(["user", "a.b+c", "josé", "x" * 60]),
    st.sampled_from(
        [
            ("example.org", "example.org"),
            ("bücher.de", "xn--bcher-kva.de"),
            ("e" * 70 + ".org", "e" * 70 + ".org"),
        ]
    ),
    names,
)


@given(address=addresses, utf8=st.booleans())
def test_a_mailbox_is_written_as_before(address: Address, utf8: bool) -> None:
    assert format_mailbox(address, utf8=utf8) == _general_mailbox(address, utf8=utf8)


@given(
    many=st.lists(addresses, min_size=1, max_size=4),
    utf8=st.booleans(),
    as_tuple=st.booleans(),
)
def test_an_address_header_is_written_as_before(
    many: list[Address], utf8: bool, as_tuple: bool
) -> None:
    given_addresses = tuple(many) if as_tuple else many
    for name in ("To", "From", "Reply-To"):
        assert address_header(name, given_addresses, utf8) == _general_header(name, many, utf8)
