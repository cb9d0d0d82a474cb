"""Where stored definitions may point: one canonical host form and the network policy.

A definition's host is typed by a tenant, and the service then connects to it — so a tenant
could aim `check` at the service's own loopback, at a cloud metadata endpoint or at a database
on the same machine and read the answers (a port scanner, an SSRF). The policy refuses those
destinations by name, by IP literal and by every address the name resolves to, at save, at
check and at send (the send-time check runs inside the library's connect path, on the very
addresses it is about to use, so a DNS answer that changes after the save is caught too).

`SMTP_CONNECTOR_NETWORK_POLICY`, comma-separated:
- a base: `private` (default: public and private ranges — RFC 1918, ULA, CGNAT — for
  self-hosted relays), `public` (global addresses only) or `any` (everything, loopback
  included: development and tests only);
- `+CIDR` allows a network the base refuses (`+127.0.0.1/32` for a relay on this host),
  `-CIDR` refuses one the base allows (`-10.0.0.0/8`). An explicit entry wins over the base;
  the longest matching prefix wins among entries.
Never allowed by a base other than `any`: loopback, unspecified, link-local (169.254/16, where
the metadata services live), multicast, reserved, and the cloud metadata addresses outside
those ranges (Alibaba's 100.100.100.200, AWS's fd00:ec2::254).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass, field

from smtp_connector.delivery.network import IPAddress, is_public_address, unwrap_ipv4
from smtp_connector.errors import ConnectorError, ErrorCode

NETWORK_POLICY_ENV = "SMTP_CONNECTOR_NETWORK_POLICY"
BASES = ("private", "public", "any")
RESOLVE_TIMEOUT_S = 2.0
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA_ADDRESSES = tuple(
    ipaddress.ip_network(n) for n in ("100.100.100.200/32", "fd00:ec2::254/128")
)
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
# Names that mean "this machine" or "the cloud's metadata service" whatever DNS says.
_DENIED_NAMES = frozenset(
    {
        "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
        "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
        "instance-data.ec2.internal",
    }
)  # fmt: skip
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def invalid_host(message: str) -> ConnectorError:
    return ConnectorError(ErrorCode.INVALID_CONFIG, message)


def canonical_host(raw: str) -> str:
    """The one stored form of a host: an IP address as Python writes it, or a lower-case
    ASCII (punycode) host name without a trailing dot. Refuses what a connect would read
    differently from a person: `host:port`, `[::1]`, `2130706433`, `0x7f.1`, spaces."""
    host = raw.strip().rstrip(".").lower()
    if not host:
        raise invalid_host("`host` is empty: give the SMTP server's name, e.g. smtp.example.com")
    if host.startswith("[") or host.endswith("]"):
        raise invalid_host("`host`: write an IPv6 address without brackets, e.g. 2001:db8::25")
    address = _ip_literal(host)
    if address is not None:
        return str(address)
    if ":" in host:
        raise invalid_host("`host` must not carry a port: give the port in `port`")
    ascii_host = host if host.isascii() else _punycode(host, raw)
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise invalid_host(
            "`host` must be a host name (letters, digits, '-' and dots) or an IP address"
        )
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        raise invalid_host(
            f"`host` {raw!r} is neither a host name nor a dotted IP address (a numeric last "
            "label would be read as an address in another notation)"
        )
    return ascii_host


def _punycode(host: str, raw: str) -> str:
    """A non-ASCII host name in IDNA 2008 with UTS #46 mapping, as browsers and
    email-validator write it. `idna` is imported here, by the first such name: an idle
    `serve` (whose definitions are read, not validated) never needs its tables (0.5 MB)."""
    import idna

    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise invalid_host(f"`host` {raw!r} is not a valid host name") from None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class NetworkPolicy:
    """Which destinations definitions may reach (see the module docstring)."""

    base: str = "private"
    allowed: tuple[Network, ...] = field(default_factory=tuple)
    denied: tuple[Network, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, raw: str | None) -> NetworkPolicy:
        """`SMTP_CONNECTOR_NETWORK_POLICY`'s value; an empty value is the default."""
        base = "private"
        allowed: list[Network] = []
        denied: list[Network] = []
        for token in (part.strip() for part in (raw or "").split(",")):
            if not token:
                continue
            if token in BASES:
                base = token
                continue
            if token[0] in "+-":
                try:
                    network = ipaddress.ip_network(token[1:].strip(), strict=False)
                except ValueError:
                    raise _bad_policy(raw, f"{token[1:]!r} is not a network") from None
                (allowed if token[0] == "+" else denied).append(network)
                continue
            raise _bad_policy(raw, f"unknown entry {token!r}")
        return cls(base, tuple(allowed), tuple(denied))

    def refusal(self, address: IPAddress) -> str | None:
        """Why `address` may not be reached, or None. The library's connect path calls this
        with every resolved address."""
        address = unwrap_ipv4(address)
        verdict = self._explicit(address)
        if verdict is not None:
            return None if verdict else "which is excluded by the service's network policy"
        if self.base == "any":
            return None
        special = _special(address)
        if special is not None:
            return special
        if is_public_address(address):
            return None
        if self.base == "private" and any(address in n for n in _PRIVATE):
            return None
        if self.base == "public" and any(address in n for n in _PRIVATE):
            return "a private address (the service only reaches public addresses)"
        return "a reserved or non-routable address"

    def _explicit(self, address: IPAddress) -> bool | None:
        """True/False for the longest `+`/`-` entry containing `address`, else None."""
        best: tuple[int, bool] | None = None
        for networks, verdict in ((self.allowed, True), (self.denied, False)):
            for network in networks:
                inside = address.version == network.version and address in network
                if inside and (best is None or network.prefixlen >= best[0]):
                    best = (network.prefixlen, verdict)
        return None if best is None else best[1]

    def check_name(self, host: str) -> None:
        """Refuse names that mean this machine or a metadata service, and IP literals the
        policy refuses. `host` is canonical (see `canonical_host`)."""
        if self.base == "any":
            literal = _ip_literal(host)
            reason = self.refusal(literal) if literal is not None else None
        elif host in _DENIED_NAMES or host.endswith((".localhost", ".internal")):
            reason = "a name for this machine or a cloud metadata service"
        else:
            literal = _ip_literal(host)
            reason = self.refusal(literal) if literal is not None else None
        if reason is not None:
            raise refused(host, f"is {reason}")

    async def check_host(self, host: str) -> None:
        """`check_name`, then every address `host` resolves to now. A name that does not
        resolve is let through: it may exist only on the relay's network, and a send would
        fail with the resolver's error anyway (and be checked again then)."""
        self.check_name(host)
        if _ip_literal(host) is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
            )
        except (OSError, UnicodeError, TimeoutError):
            return
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            reason = self.refusal(address)
            if reason is not None:
                raise refused(host, f"resolves to {address}, {reason}")


def _special(address: IPAddress) -> str | None:
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_unspecified:
        return "the unspecified address (this machine)"
    if address.is_link_local or any(address in n for n in _METADATA_ADDRESSES):
        return "a link-local or cloud metadata address"
    if address.is_multicast:
        return "a multicast address"
    return None


def refused(host: str, phrase: str) -> ConnectorError:
    return ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"`host` {host!r} {phrase}: the service does not connect there. An operator can "
        f"allow it with {NETWORK_POLICY_ENV} (see docs/security.md).",
    )


def _bad_policy(raw: str | None, why: str) -> ConnectorError:
    return ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"{NETWORK_POLICY_ENV}={raw!r}: {why}. Use a base (private, public, any) and "
        "+CIDR / -CIDR entries, comma-separated.",
    )
