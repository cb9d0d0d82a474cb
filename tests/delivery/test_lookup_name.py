"""Host names go to getaddrinfo as `network.lookup_name` gives them: an ASCII name as the bytes
Python's `idna` codec would encode it to (so a send need not import the codec), anything else
as text, which `socket` encodes, or refuses, as before."""

from __future__ import annotations

import asyncio
import socket
import string

from hypothesis import example, given
from hypothesis import strategies as st

from smtp_connector.delivery.network import lookup_name, resolve

# Labels around the codec's limits (empty, 63 and 64 octets), dots, and any other text.
LABELS = st.sampled_from(["", "a", "mail", "x" * 63, "x" * 64, "xn--bcher-kva", "é"])
HOSTS = st.one_of(
    st.lists(LABELS, min_size=1, max_size=5).map(".".join),
    st.text(alphabet=string.ascii_letters + string.digits + ".-_ ", max_size=80),
    st.text(max_size=20),
)


@given(HOSTS)
@example("")
@example("example.com.")
@example("a..b")
@example("." * 2)
@example("x" * 64)
@example("bücher.example")
def test_a_host_is_looked_up_as_socket_would_encode_it(host: str) -> None:
    try:
        encoded: bytes | None = host.encode("idna")
    except UnicodeError:
        encoded = None
    given_name = lookup_name(host)
    if isinstance(given_name, bytes):
        assert given_name == encoded  # what socket would have passed on
    else:
        assert given_name == host  # socket encodes it (or refuses) itself
        assert encoded is None or not host.isascii()


def test_no_host_stays_none() -> None:
    assert lookup_name(None) is None


def test_names_resolve_as_before() -> None:
    """Through the resolver for real: the loop's answer for the bytes equals socket's own for
    the text, for a loopback name, an IP literal and this machine's name."""

    async def both(host: str) -> tuple[list[tuple], list[tuple]]:
        infos = await resolve(host, 25, refuse_private=False, name=host)
        return infos, socket.getaddrinfo(host, 25, type=socket.SOCK_STREAM)

    compared = []
    for host in ("localhost", "127.0.0.1", "::1", socket.gethostname()):
        try:
            ours, theirs = asyncio.run(both(host))
        except OSError:  # e.g. no IPv6 on this machine: nothing to compare
            continue
        assert ours == theirs, host
        compared.append(host)
    assert {"localhost", "127.0.0.1"} <= set(compared)
