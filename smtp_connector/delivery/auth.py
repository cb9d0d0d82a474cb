"""SMTP AUTH on an open session: TLS first, which mechanism, and XOAUTH2's one retry with a
fresh token.

Passwords and tokens only pass through here into aiosmtplib's encoders (and pyspnego's, for
NTLM); errors are mapped by the session, whose messages never carry them. `authenticate`
returns the mechanism that succeeded, so `verify` can say which one was used.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import aiosmtplib

from ..errors import Cause, ConnectorError, ErrorCode, register_credentials

if TYPE_CHECKING:  # OAuth2's and NTLM's modules load only for a server that uses them
    from ..config.views import ServerView
    from .oauth import TokenSource

# Password mechanisms in order of preference when none is configured (aiosmtplib's order): each
# offered one is tried in turn, as some servers advertise a mechanism they then refuse.
AUTO_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")


def auth_mechanism(server: ServerView) -> str:
    """The mechanism to use: XOAUTH2 for oauth2, NTLM for ntlm, the configured one, or "auto"
    (the first of `AUTO_MECHANISMS` the server offers and accepts)."""
    auth = server.auth
    if auth.type == "oauth2":
        return "XOAUTH2"
    if auth.type == "ntlm":
        return "NTLM"
    return auth.method or "auto"


def require_encrypted(
    smtp: aiosmtplib.SMTP, server: ServerView, name: str, why: str | None = None
) -> None:
    """No AUTH, of any mechanism, on a connection without TLS unless the config says so with
    `ignoreTLS: true` (and not `requireTLS` too: `clear_auth_allowed`): PLAIN and LOGIN carry
    the password in base64, XOAUTH2 a bearer token, and a server (or a man in the middle
    stripping STARTTLS) would read them. nodemailer and Logto send them anyway; we refuse
    before a byte of credentials leaves. `why` says how the session came to be unencrypted."""
    if smtp.get_transport_info("sslcontext") is not None or server.clear_auth_allowed:
        return
    if server.ignore_tls:  # with requireTLS: the flags contradict each other (ConfigWarning)
        message = (
            f"{name}: `ignoreTLS` skips STARTTLS, but `requireTLS` is set too, so the "
            "credentials are not sent over the unencrypted connection and nothing was sent. "
            "Drop `requireTLS` to allow AUTH without TLS on a trusted network, or drop "
            "`ignoreTLS` to use STARTTLS."
        )
    else:
        message = (
            f"{name} {why or 'offers no STARTTLS'}, and AUTH without TLS would send the "
            "credentials in clear, so nothing was sent. Enable STARTTLS (or implicit TLS with "
            "`secure: true`) on the server, or, on a trusted network only, set `ignoreTLS: "
            "true` to allow AUTH without TLS."
        )
    raise ConnectorError(
        ErrorCode.TLS_FAILED,
        message,
        server=name,
        retryable=False,
        stage="tls",
        cause=Cause.STARTTLS_MISSING,
        reason=why or "STARTTLS is not offered, and AUTH needs TLS",
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
        cause=Cause.AUTH_NOT_OFFERED,
        reason="AUTH is not offered"
        + ("" if smtp.get_transport_info("sslcontext") else " on an unencrypted session"),
    )


async def authenticate(
    smtp: aiosmtplib.SMTP, server: ServerView, method: str, tokens: TokenSource | None
) -> str:
    """Log in with `method` and return the mechanism used; raises aiosmtplib's errors (the
    session maps them) or `ConnectorError`."""
    auth = server.auth
    assert auth.user is not None
    require_encrypted(smtp, server, server.address)
    if auth.password:
        register_credentials(auth.user, auth.password)
    if method == "XOAUTH2":
        assert tokens is not None
        await _xoauth2(smtp, auth.user, tokens)
    elif method == "NTLM":
        _require_offered(smtp, "NTLM", server.address)
        from .ntlm import auth_ntlm

        await auth_ntlm(smtp, auth, server.tls_server_name or server.host or "unspecified")
    elif method == "auto":
        return await _first_accepted(smtp, auth.user, auth.password or "")
    else:
        await _PASSWORD_METHODS[method](smtp, auth.user, auth.password or "")
    return method


_PASSWORD_METHODS = {
    "PLAIN": aiosmtplib.SMTP.auth_plain,
    "LOGIN": aiosmtplib.SMTP.auth_login,
    "CRAM-MD5": aiosmtplib.SMTP.auth_crammd5,
}


async def _first_accepted(smtp: aiosmtplib.SMTP, user: str, password: str) -> str:
    """Try each offered password mechanism in preference order; the first that succeeds wins
    (the last one's refusal is the error)."""
    offered = [m for m in AUTO_MECHANISMS if m.lower() in smtp.server_auth_methods]
    if not offered:
        raise aiosmtplib.SMTPException("No suitable authentication method found.")
    for mechanism in offered[:-1]:
        with contextlib.suppress(aiosmtplib.SMTPAuthenticationError):
            await _PASSWORD_METHODS[mechanism](smtp, user, password)
            return mechanism
    await _PASSWORD_METHODS[offered[-1]](smtp, user, password)
    return offered[-1]


def _require_offered(smtp: aiosmtplib.SMTP, mechanism: str, name: str) -> None:
    if mechanism.lower() in smtp.server_auth_methods:
        return
    offered = " ".join(m.upper() for m in smtp.server_auth_methods) or "none"
    raise ConnectorError(
        ErrorCode.AUTH_FAILED,
        f"{name} does not offer AUTH {mechanism} (it offers: {offered}); use a mechanism it "
        f"offers (`auth.type: login`) or the server's {mechanism}-enabled endpoint.",
        server=name,
        retryable=False,
        stage="auth",
        cause=Cause.AUTH_NOT_OFFERED,
        reason=f"AUTH {mechanism} is not offered (offered: {offered})",
    )


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
