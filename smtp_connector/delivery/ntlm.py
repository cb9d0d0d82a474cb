"""NTLM for SMTP (MS-SMTPNTLM), on aiosmtplib's command primitives, with pyspnego doing NTLM.

Exchange and other on-premises relays still ask for NTLM (the portal dialect's `useNtlm`). The
exchange is `AUTH NTLM <NEGOTIATE>` → `334 <CHALLENGE>` → `<AUTHENTICATE>` → `235`, each
message base64. pyspnego (extra `ntlm`) builds and checks the NTLM messages; this module only
carries them over the session aiosmtplib already holds, so there is no second SMTP client. Over
TLS it also sends the channel binding (RFC 5929 `tls-server-end-point`) that Exchange's Extended
Protection checks. Like every AUTH, it runs only on an encrypted session (see `auth.py`).
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiosmtplib

from ..config import invalid_config
from ..config.views import AuthView

INSTALL_HINT = (
    "`auth.type: ntlm` needs the pyspnego package: pip install 'smtp-connector[ntlm]' "
    "(or pip install pyspnego)"
)
_WORKSTATION_ENV = "NETBIOS_COMPUTER_NAME"  # where pyspnego takes the workstation name from
_ENV_LOCK = threading.Lock()


def require_ntlm_support() -> None:
    """Called when the connector is built: a missing extra is a config error, not a send error."""
    try:
        import spnego  # noqa: F401
    except ImportError:
        raise invalid_config(INSTALL_HINT) from None


def ntlm_principal(auth: AuthView) -> str:
    """`DOMAIN\\user` or `user@DOMAIN` as given; a bare user gets `auth.domain` in front."""
    user = auth.user or ""
    if auth.domain and "\\" not in user and "@" not in user:
        return f"{auth.domain}\\{user}"
    return user


async def auth_ntlm(smtp: aiosmtplib.SMTP, auth: AuthView, server_host: str) -> None:
    """Run the three-leg exchange; raises `SMTPAuthenticationError` with the server's reply."""
    import spnego

    context = spnego.client(
        ntlm_principal(auth),
        auth.password or "",
        hostname=server_host,
        service="SMTP",
        protocol="ntlm",
        channel_bindings=_channel_bindings(smtp),
    )
    negotiate = context.step()
    assert negotiate is not None
    reply = await smtp.execute_command(b"AUTH", b"NTLM", base64.b64encode(negotiate))
    if reply.code != 334:
        raise aiosmtplib.SMTPAuthenticationError(reply.code, reply.message)
    try:
        challenge = base64.b64decode(reply.message.strip(), validate=True)
        with _workstation(auth.workstation):
            answer = context.step(challenge)
    except (binascii.Error, spnego.exceptions.SpnegoError, ValueError):
        await smtp.execute_command(b"*")  # RFC 4954: cancel the exchange
        raise aiosmtplib.SMTPAuthenticationError(
            reply.code, "the server's NTLM challenge could not be read"
        ) from None
    assert answer is not None
    final = await smtp.execute_command(base64.b64encode(answer))
    if final.code != 235:
        raise aiosmtplib.SMTPAuthenticationError(final.code, final.message)


def _channel_bindings(smtp: aiosmtplib.SMTP) -> Any:
    """`tls-server-end-point` of the server certificate, or None without TLS."""
    from spnego.channel_bindings import GssChannelBindings

    ssl_object = smtp.get_transport_info("ssl_object")
    certificate = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not certificate:
        return None
    return GssChannelBindings(application_data=b"tls-server-end-point:" + _cert_hash(certificate))


def _cert_hash(der: bytes) -> bytes:
    """RFC 5929 §4.1: the certificate's own signature hash, but SHA-256 for MD5 and SHA-1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    except ValueError:
        algorithm = None
    if algorithm is None or isinstance(algorithm, hashes.MD5 | hashes.SHA1):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return digest.finalize()


@contextmanager
def _workstation(name: str | None) -> Iterator[None]:
    """pyspnego reads the workstation name from the environment while it builds AUTHENTICATE:
    set it for that synchronous step only (the lock keeps two connectors from mixing names)."""
    if name is None:
        yield
        return
    with _ENV_LOCK:
        previous = os.environ.get(_WORKSTATION_ENV)
        os.environ[_WORKSTATION_ENV] = name
        try:
            yield
        finally:
            if previous is None:
                del os.environ[_WORKSTATION_ENV]
            else:
                os.environ[_WORKSTATION_ENV] = previous
