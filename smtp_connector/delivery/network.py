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
        except (OSError, TimeoutError) as exc:
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
    """SSRF guard (as Ory Kratos has): refuse hosts resolving to loopback/private addresses."""
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local:
            raise ConnectorError(
                ErrorCode.CONNECTION_FAILED,
                f"{name} resolves to a private or loopback address ({address}) and "
                "`refusePrivateHosts` is set.",
                server=name,
                retryable=False,
                stage="connect",
            )


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
