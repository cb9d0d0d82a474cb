"""SMTP AUTH on an open session: which mechanism, and XOAUTH2's one retry with a fresh token.

Passwords and tokens only pass through here into aiosmtplib's encoders; errors are mapped by the
session, whose messages never carry them.
"""

from __future__ import annotations

import aiosmtplib

from ..config import ServerSettings
from ..errors import ConnectorError, ErrorCode, register_credentials
from .oauth import TokenSource


def auth_mechanism(server: ServerSettings) -> str:
    """The mechanism to use: XOAUTH2 for oauth2, the configured one, or "auto" (aiosmtplib picks
    the strongest the server offers)."""
    auth = server.auth
    return "XOAUTH2" if auth.type == "oauth2" else (auth.method or "auto")


def require_encrypted(smtp: aiosmtplib.SMTP, server: ServerSettings, name: str) -> None:
    """No AUTH, of any mechanism, on a connection without TLS unless the config says so with
    `ignoreTLS: true`: PLAIN and LOGIN carry the password in base64, XOAUTH2 a bearer token, and a
    server (or a man in the middle stripping STARTTLS) would read them. nodemailer and Logto
    send them anyway; we refuse before a byte of credentials leaves."""
    if smtp.get_transport_info("sslcontext") is not None or server.ignore_tls:
        return
    raise ConnectorError(
        ErrorCode.TLS_FAILED,
        f"{name} offers no STARTTLS, and AUTH without TLS would send the credentials in "
        "clear, so nothing was sent. Enable STARTTLS (or implicit TLS with `secure: true`) on "
        "the server, or, on a trusted network only, set `ignoreTLS: true` to allow AUTH "
        "without TLS.",
        server=name,
        retryable=False,
        stage="tls",
    )


def require_auth_offered(smtp: aiosmtplib.SMTP, name: str) -> None:
    """Credentials are configured: a server that offers no AUTH cannot use them."""
    if smtp.supports_extension("auth"):
        return
    raise ConnectorError(
        ErrorCode.AUTH_FAILED,
        f"{name} offers no AUTH"
        + ("" if smtp.get_transport_info("sslcontext") else " on an unencrypted session")
        + "; credentials are configured but cannot be used (check port/TLS settings, or"
        " remove `auth` for an IP-authorised relay).",
        server=name,
        retryable=False,
        stage="auth",
    )


async def authenticate(
    smtp: aiosmtplib.SMTP, server: ServerSettings, method: str, tokens: TokenSource | None
) -> None:
    """Log in with `method`; raises aiosmtplib's errors (the session maps them)."""
    auth = server.auth
    assert auth.user is not None
    require_encrypted(smtp, server, server.address)
    if auth.password:
        register_credentials(auth.user, auth.password)
    if method == "XOAUTH2":
        assert tokens is not None
        await _xoauth2(smtp, auth.user, tokens)
    elif method == "PLAIN":
        await smtp.auth_plain(auth.user, auth.password or "")
    elif method == "LOGIN":
        await smtp.auth_login(auth.user, auth.password or "")
    elif method == "CRAM-MD5":
        await smtp.auth_crammd5(auth.user, auth.password or "")
    else:
        await smtp.login(auth.user, auth.password or "")


async def _xoauth2(smtp: aiosmtplib.SMTP, user: str, tokens: TokenSource) -> None:
    """XOAUTH2 with the cached token; on rejection refresh once and try again."""
    try:
        await smtp.auth_xoauth2(user, await _registered(user, tokens))
    except aiosmtplib.SMTPAuthenticationError:
        if not tokens.can_refresh:
            raise
        tokens.invalidate()
        await smtp.auth_xoauth2(user, await _registered(user, tokens))


async def _registered(user: str, tokens: TokenSource) -> str:
    """The current token, registered in its wire form too (a reply may echo the blob)."""
    token = await tokens.token()
    register_credentials(user, token)
    return token
