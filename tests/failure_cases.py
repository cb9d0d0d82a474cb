"""Real SMTP failures, one per `Cause` a server can cause: each case starts the misbehaving
server (aiosmtpd with trustme certificates, a plain port, a server without AUTH, a refusing
AUTH, a silent greeting, another protocol's banner, a closed port, an unresolvable name) and
gives the library config that meets it. Used by the library's cause tests and by the service's
hint tests, which walk the same errors through every API's terms."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trustme
from smtp_servers import (
    PASSWORD,
    USER,
    MakeServer,
    ScriptedServer,
    config_for,
    dead_port,
    smtp_dialogue,
)

from smtp_connector import ConnectorError, SmtpConnector
from smtp_connector.errors import Cause


@dataclass
class Case:
    cause: Cause
    start: Callable[[MakeServer, trustme.CA], Awaitable[tuple[dict[str, Any], Any]]]
    # the definition fields (native API) meeting the same server: (security, auth)
    security: str = "none"


def _context(ca: trustme.CA, *names: str, expired: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    kwargs: dict[str, Any] = {}
    if expired:
        past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
        kwargs = {"not_before": past - datetime.timedelta(days=30), "not_after": past}
    ca.issue_cert(*names, **kwargs).configure_cert(context)
    return context


async def _scripted(script: Callable[..., Any]) -> ScriptedServer:
    return await ScriptedServer(script).start()


async def _untrusted(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = make(mode="implicit")  # a CA the client was not given
    return config_for(server, secure=True), server


async def _expired(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = make(mode="implicit", context=_context(ca, "127.0.0.1", expired=True))
    return config_for(server, secure=True, tls={"ca": ca.cert_pem.bytes().decode()}), server


async def _mismatch(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = make(mode="implicit", context=_context(ca, "mail.other.example"))
    return config_for(server, secure=True, tls={"ca": ca.cert_pem.bytes().decode()}), server


async def _tls_on_plain(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = make()
    return config_for(server, secure=True), server


async def _plain_on_tls(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = make(mode="implicit")
    return config_for(server, secure=False, greetingTimeout=8000), server


async def _no_starttls(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = make()
    return config_for(server, requireTLS=True), server


async def _no_auth(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = await _scripted(smtp_dialogue)  # EHLO without AUTH
    auth = {"user": USER, "pass": PASSWORD}
    return config_for(server.port, ignoreTLS=True, auth=auth), server


async def _auth_refused(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = make(auth_required=True, users={USER: "another-password"})
    auth = {"user": USER, "pass": PASSWORD}
    return config_for(server, ignoreTLS=True, auth=auth), server


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(60)


async def _silence(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = await _scripted(_silent)
    return config_for(server.port, greetingTimeout=600), server


async def _banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6 a banner that must never be quoted\r\n")
    await writer.drain()
    await asyncio.sleep(5)


async def _not_smtp(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = await _scripted(_banner)
    return config_for(server.port), server


async def _dns(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    return config_for(25, host="no-such-host.invalid"), None


async def _closed(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    return config_for(dead_port()), None


async def _sender(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    reply = "553 5.7.1 Sender address rejected: not owned by user"
    server = make(reject_sender={"noreply@example.com": reply})
    return config_for(server), server


async def _recipient(make: MakeServer, ca: trustme.CA) -> tuple[dict[str, Any], Any]:
    server = make(reject_rcpt={"user@example.org": "550 5.1.1 User unknown"})
    return config_for(server), server


CASES = [
    Case(Cause.CERTIFICATE_UNTRUSTED, _untrusted, "tls"),
    Case(Cause.CERTIFICATE_EXPIRED, _expired, "tls"),
    Case(Cause.HOSTNAME_MISMATCH, _mismatch, "tls"),
    Case(Cause.TLS_PORT_MISMATCH, _tls_on_plain, "tls"),
    Case(Cause.IMPLICIT_TLS_REQUIRED, _plain_on_tls, "none"),
    Case(Cause.STARTTLS_MISSING, _no_starttls, "starttls"),
    Case(Cause.AUTH_NOT_OFFERED, _no_auth),
    Case(Cause.AUTH_REFUSED, _auth_refused),
    Case(Cause.GREETING_TIMEOUT, _silence),
    Case(Cause.NOT_SMTP, _not_smtp),
    Case(Cause.DNS_FAILURE, _dns),
    Case(Cause.CONNECTION_REFUSED, _closed),
    Case(Cause.SENDER_REFUSED, _sender),
    Case(Cause.RECIPIENT_REFUSED, _recipient),
]


@asynccontextmanager
async def failing(case: Case, make: MakeServer, ca: trustme.CA) -> AsyncIterator[dict[str, Any]]:
    """The config that meets `case`'s server; the scripted servers stop afterwards."""
    config, server = await case.start(make, ca)
    try:
        yield config
    finally:
        if isinstance(server, ScriptedServer):
            await server.stop()


async def error_of(case: Case, make: MakeServer, ca: trustme.CA) -> ConnectorError:
    """Send once through `case`'s failure; the ConnectorError it raises."""
    async with failing(case, make, ca) as config, SmtpConnector(config) as connector:
        try:
            await connector.send("user@example.org", "SignIn", {"code": "123456"})
        except ConnectorError as error:
            return error
    raise AssertionError(f"{case.cause}: the send did not fail")
