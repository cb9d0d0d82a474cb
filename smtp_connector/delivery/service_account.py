"""Logto's OAuth2 service account: a signed JWT buys the access token (RFC 7523 JWT bearer grant).

Logto's SMTP connector accepts `auth: {user, serviceClient, privateKey}` and hands it to
nodemailer, which signs a JWT (RS256) with the private key — `iss` the service client, `sub` the
mailbox to send as, `aud` the token URL, `scope` Gmail's by default — and exchanges it at the
token URL for an access token (Google Workspace domain-wide delegation works this way). We do the
same with PyJWT (extra `oauth2`). The key is loaded and checked when the connector is built, so
a bad key is an `invalid_config` naming `auth.privateKey` before the first send.
"""

from __future__ import annotations

import time
from typing import Any

from ..config import GOOGLE_MAIL_SCOPE, invalid_config
from ..config.views import AuthView
from ..errors import register_secret
from ..files import OptionFileError, read_option_file

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_S = 300  # nodemailer's default: the assertion is used at once
INSTALL_HINT = (
    "`auth.serviceClient` + `auth.privateKey` (a service account) needs PyJWT with cryptography: "
    "pip install 'smtp-connector[oauth2]' (or pip install 'pyjwt[crypto]')"
)


class ServiceAccount:
    """Signs token requests for one service account; build once per connector."""

    def __init__(self, auth: AuthView, *, allow_files: bool = True) -> None:
        assert auth.uses_service_account and auth.private_key is not None
        self._issuer = auth.service_client or ""
        self._subject = auth.user or ""
        self._audience = auth.token_url or ""
        self._scope = auth.scope or GOOGLE_MAIL_SCOPE
        self._key = _load_key(auth, allow_files)

    def grant(self, now: float | None = None) -> dict[str, str]:
        """The form to POST to the token URL: a fresh assertion, valid for five minutes."""
        import jwt

        issued = int(time.time() if now is None else now)
        claims = {
            "iss": self._issuer,
            "sub": self._subject,
            "aud": self._audience,
            "scope": self._scope,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME_S,
        }
        assertion = jwt.encode(claims, self._key, algorithm="RS256")
        register_secret(assertion)
        return {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}

    def __repr__(self) -> str:
        return f"ServiceAccount(iss={self._issuer!r}, sub={self._subject!r})"


def _load_key(auth: AuthView, allow_files: bool) -> Any:
    """The RSA private key from PEM text (Google's JSON key file has it as `private_key`) or a
    PEM file; errors name the option, never its value."""
    try:
        import jwt  # noqa: F401
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:
        raise invalid_config(INSTALL_HINT) from None
    assert auth.private_key is not None
    text = auth.private_key.get_secret_value()
    try:
        data = (
            text.encode()
            if "-----BEGIN " in text
            else read_option_file(text, "auth.privateKey", allow_files=allow_files)
        )
    except OptionFileError as exc:
        raise invalid_config(str(exc)) from None
    passphrase = auth.private_key_passphrase
    try:
        key = load_pem_private_key(
            data.replace(b"\\n", b"\n"),  # a key copied out of JSON keeps its escaped newlines
            password=passphrase.get_secret_value().encode() if passphrase else None,
        )
    except (ValueError, TypeError):
        raise invalid_config(
            "`auth.privateKey` is not a PEM private key this passphrase opens (a service "
            "account's key is the `private_key` of its JSON key file)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise invalid_config("`auth.privateKey` must be an RSA key: service accounts sign RS256")
    return key
