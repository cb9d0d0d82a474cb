"""Reaching a server: name resolution (with the private-address guard), TCP connect over the
resolved addresses, the EHLO name, and a TLS probe that tells an implicit-TLS port from a plain
one.

The EHLO name (RFC 5321 §4.1.4): `name` from the config; else this host's fully-qualified name
when it has one; else the address literal of the connection's own local address (`[192.0.2.1]`,
`[IPv6:2001:db8::1]`), as nodemailer sends. A bare host name (`EHLO vm`) is what postfix's
`reject_non_fqdn_helo_hostname` and many providers refuse.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable

from ..addresses import special_use_domain
from ..errors import Cause, ConnectorError, ErrorCode
from ..lazy import LazyPattern

TLS_PROBE_TIMEOUT_S = 3.0
FQDN_LOOKUP_TIMEOUT_S = 2.0
_DNS_LABEL = LazyPattern(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# host name -> its FQDN, or None when it has none; looked up once per process and host name.
_fqdn_cache: dict[str, str | None] = {}


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# An embedding host's rule for where connections may go (the service's network policy): given
# a resolved address, the reason it is refused ("is a loopback address"), or None to allow.
AddressPolicy = Callable[[IPAddress], str | None]


async def resolve(
    host: str | None,
    port: int,
    *,
    refuse_private: bool,
    name: str,
    policy: AddressPolicy | None = None,
) -> list[tuple]:
    """getaddrinfo on the running loop; with `refuse_private`, refuse private destinations,
    and with `policy`, every address the policy refuses. Every resolved address is checked,
    not only the first: a name that resolves to a public and a loopback address would
    otherwise reach loopback on the second try."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(lookup_name(host), port, type=socket.SOCK_STREAM)
    if refuse_private:
        _refuse_private(infos, name)
    if policy is not None:
        _apply_policy(infos, name, policy)
    return infos


async def connect_any(
    infos: list[tuple], local_address: str | None, timeout: float
) -> socket.socket:
    """TCP connect to the first address that answers within `timeout` seconds."""
    loop = asyncio.get_running_loop()
    last_error: BaseException | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            if local_address:
                sock.bind((local_address, 0))
            await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except (OSError, TimeoutError) as exc:
            sock.close()
            last_error = exc
    assert last_error is not None
    raise last_error


def ehlo_name(configured: str | None, fqdn: str | None, sock: socket.socket) -> str:
    """The EHLO argument for a connection on `sock` (see the module docstring); `fqdn` is
    `await local_fqdn()`."""
    if configured:
        return configured
    return fqdn if fqdn is not None else address_literal(sock.getsockname()[0])


async def local_fqdn() -> str | None:
    """This host's fully-qualified domain name, or None. The host name itself when it is one,
    else the canonical name the resolver gives it (/etc/hosts, DNS) — looked up on the loop's
    resolver thread with a short timeout, once per process. `localhost` names do not count."""
    host = socket.gethostname()
    if host in _fqdn_cache:
        return _fqdn_cache[host]
    found = host if is_fqdn(host) else None
    if found is None and host:
        found = await _canonical_name(host)
    _fqdn_cache[host] = found
    return found


async def _canonical_name(host: str) -> str | None:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(
                lookup_name(host), None, type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME
            ),
            FQDN_LOOKUP_TIMEOUT_S,
        )
    except (OSError, UnicodeError, TimeoutError):
        return None
    names = [info[3] for info in infos if info[3]]
    return next((name for name in names if is_fqdn(name)), None)


def lookup_name(host: str | None) -> str | bytes | None:
    """`host` as handed to getaddrinfo: an ASCII name whose labels Python's `idna` codec
    accepts as its ASCII bytes, which is what `socket` would encode it to; any other stays text,
    for `socket` to encode (or refuse) as before. The codec's import (with `stringprep` and
    `unicodedata`) is about 4.7 million instructions of a first send otherwise: `socket`
    encodes every text host with it, an IP literal and this host's own name too."""
    if host is None or not host.isascii():
        return host
    labels = host.split(".")
    if all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64:
        return host.encode("ascii")
    return host


def is_fqdn(name: str) -> bool:
    """A dotted ASCII host name with a letter in its top label, not `localhost.localdomain`
    (the placeholder distributions put in /etc/hosts) nor under a special-use name such as
    `.local` (mDNS) or `.localhost`, which mean nothing to a receiving server."""
    name = name.rstrip(".").lower()
    labels = name.split(".")
    if len(labels) < 2 or not all(_DNS_LABEL.match(label) for label in labels):
        return False
    if labels[-1].isdigit() or labels[0] == "localhost" or labels[-1] == "localdomain":
        return False
    return special_use_domain(name) is None


def address_literal(ip: str) -> str:
    """RFC 5321 §4.1.3 address literal: `[192.0.2.1]`, `[IPv6:2001:db8::1]` (zone id dropped,
    an IPv4-mapped IPv6 address written as the IPv4 address it is)."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv6Address):
        return f"[IPv6:{address.compressed}]"
    return f"[{address}]"


def _refuse_private(infos: list[tuple], name: str) -> None:
    """SSRF guard (as Ory Kratos has): every address the host resolves to must be public."""
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not is_public_address(address):
            raise ConnectorError(
                ErrorCode.CONNECTION_FAILED,
                f"{name} resolves to a non-public address ({address}: private, loopback, "
                "link-local, shared or reserved) and `refusePrivateHosts` is set.",
                server=name,
                retryable=False,
                stage="connect",
                cause=Cause.ADDRESS_REFUSED,
                reason=f"resolves to the non-public address {address}",
            )


def _apply_policy(infos: list[tuple], name: str, policy: AddressPolicy) -> None:
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        reason = policy(address)
        if reason is not None:
            raise ConnectorError(
                ErrorCode.CONNECTION_FAILED,
                f"{name} resolves to {address}, {reason}: the network policy refuses it.",
                server=name,
                retryable=False,
                stage="connect",
                cause=Cause.ADDRESS_REFUSED,
                reason=f"resolves to {address}, {reason}",
            )


# IPv6 forms that carry an IPv4 address inside: NAT64 (RFC 6052, RFC 8215) and 6to4 (RFC 3056).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# IETF protocol assignments (RFC 6890): Python's tables mark only parts of it non-global.
_ALWAYS_REFUSED = (ipaddress.ip_network("192.0.0.0/24"),)


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address, judged on the IPv4 address inside the
    IPv4-mapped, NAT64 and 6to4 forms (so `::ffff:10.0.0.1` or `64:ff9b::a9fe:a9fe` count as
    what they reach). `is_global` alone lets multicast and site-local fec0::/10 through."""
    address = unwrap_ipv4(address)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or any(address in network for network in _ALWAYS_REFUSED)
    )


def unwrap_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for, when it is one of the wrapping forms."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


async def speaks_tls(address: tuple, server_name: str | None) -> bool:
    """True when a fresh connection to `address` completes a TLS handshake (certificate not
    checked: this only tells a TLS port from a plain one)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                address[0], address[1], ssl=context, server_hostname=server_name or address[0]
            ),
            TLS_PROBE_TIMEOUT_S,
        )
    except (OSError, ssl.SSLError, TimeoutError):
        return False
    writer.close()
    return True
