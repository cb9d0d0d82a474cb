"""Reaching a server: name resolution (with the private-address guard), TCP connect over the
resolved addresses, the EHLO name, and a TLS probe that tells an implicit-TLS port from a plain
one."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl

from ..errors import ConnectorError, ErrorCode

TLS_PROBE_TIMEOUT_S = 3.0


async def resolve(host: str | None, port: int, *, refuse_private: bool, name: str) -> list[tuple]:
    """getaddrinfo on the running loop; with `refuse_private`, refuse private destinations."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if refuse_private:
        _refuse_private(infos, name)
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
        except (OSError, asyncio.TimeoutError, TimeoutError) as exc:
            sock.close()
            last_error = exc
    assert last_error is not None
    raise last_error


def ehlo_name(configured: str | None) -> str:
    """`name` from the config, else this host's name if it is a plain ASCII label."""
    if configured:
        return configured
    host = socket.gethostname()
    return host if host.isascii() and host and " " not in host else "localhost"


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
            )


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
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
    except (OSError, ssl.SSLError, asyncio.TimeoutError, TimeoutError):
        return False
    writer.close()
    return True
