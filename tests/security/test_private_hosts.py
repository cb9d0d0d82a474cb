"""Finding 6: `refusePrivateHosts` let shared, special and wrapped addresses through.

100.64/10 (with the 100.100.100.200 cloud metadata address), 192.0.0.0/24, multicast, fec0::/10
and NAT64/6to4/IPv4-mapped wrappers of private IPv4 passed the guard. The rule is now: every
resolved address must be `is_global` (and unicast) after unwrapping those forms.
"""

from __future__ import annotations

import ipaddress

import pytest
from smtp_servers import MakeServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector
from smtp_connector.delivery.network import is_public_address

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "100.64.0.1",
    "100.100.100.200",  # Alibaba Cloud's metadata service
    "169.254.169.254",
    "192.0.0.8",
    "224.0.0.251",
    "0.0.0.0",
    "::1",
    "fe80::1",
    "fec0::1",
    "fd00::1",
    "::ffff:10.0.0.1",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "ff02::1",
]
ALLOWED = ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::"]


@pytest.mark.parametrize("address", REFUSED)
async def test_non_public_addresses_are_refused_before_connecting(address: str) -> None:
    config = config_for(25, host=address, refusePrivateHosts=True)
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.verify()
    assert info.value.code is ErrorCode.CONNECTION_FAILED
    assert "refusePrivateHosts" in info.value.message
    assert info.value.retryable is False


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_real_loopback_server_is_never_contacted(
    make_server: MakeServer, host: str
) -> None:
    server = make_server()
    config = config_for(server, host=host, refusePrivateHosts=True)
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("user@example.org", "SignIn", {"code": "1"})
    assert "refusePrivateHosts" in info.value.message
    assert server.connections == 0 and server.messages == []
