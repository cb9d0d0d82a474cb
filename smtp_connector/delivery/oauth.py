"""XOAUTH2 access tokens: a static token, a refresh-token flow, a service account (signed JWT),
or a caller-supplied provider.

Tokens expire (Google: 1 h). Like nodemailer and Keycloak, the connector fetches a token (with
the refresh token, or with a JWT signed by the service account's key) when it has none or it is
about to expire, caches it, and after an AUTH failure fetches once more and retries, because a
token can be revoked before its stated expiry. Every fetch goes through `token_fetch`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..config import invalid_config
from ..config.views import AuthView
from ..errors import Cause, ConnectorError, ErrorCode, register_secret
from .service_account import ServiceAccount
from .token_fetch import TokenFetchError, UrlPolicy, post_form

TokenProvider = Callable[[], Awaitable[str]]
EXPIRY_MARGIN_S = 60.0


class TokenSource:
    """Hands out a valid access token; `invalidate()` forces the next call to refresh."""

    def __init__(
        self,
        auth: AuthView,
        provider: TokenProvider | None = None,
        policy: UrlPolicy | None = None,
        *,
        allow_files: bool = True,
        where: str = "`auth`",
    ) -> None:
        if provider is None and auth.access_token is None and not auth.can_refresh:
            # nodemailer fails such a login locally ("Missing credentials"); so do we, when
            # the connector is built rather than on the first send.
            raise invalid_config(
                f"{where}: Missing credentials for XOAUTH2: give `accessToken`, or clientId "
                "+ clientSecret + refreshToken + accessUrl to fetch one, or serviceClient + "
                "privateKey (a service account), or pass token_provider= to SmtpConnector"
            )
        self._auth = auth
        self._provider = provider
        self._policy = policy or UrlPolicy()
        self._service = (
            ServiceAccount(auth, allow_files=allow_files)
            if auth.uses_service_account and provider is None
            else None
        )
        self._token = auth.access_token.get_secret_value() if auth.access_token else None
        self._expires_at = auth.expires / 1000 if auth.expires else None
        self._lock = asyncio.Lock()

    @property
    def can_refresh(self) -> bool:
        """True when a new token can be obtained (refresh flow or a provider hook)."""
        return self._provider is not None or self._auth.can_refresh

    async def token(self) -> str:
        async with self._lock:
            if self._token and not self._expiring():
                return self._token
            if not self.can_refresh:
                if self._token:
                    return self._token  # expired by its own account; let the server decide
                raise ConnectorError(
                    ErrorCode.AUTH_FAILED,
                    "XOAUTH2 needs `auth.accessToken`, or clientId + clientSecret + refreshToken "
                    "+ accessUrl to fetch one, or serviceClient + privateKey (a service account), "
                    "or a token_provider.",
                    retryable=False,
                )
            await self._refresh()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        self._expires_at = 0.0

    def _expiring(self) -> bool:
        return self._expires_at is not None and time.time() > self._expires_at - EXPIRY_MARGIN_S

    async def _refresh(self) -> None:
        if self._provider is not None:
            token, expires_in = await self._provider(), None
        else:
            token, expires_in = await asyncio.to_thread(self._request_token)
        register_secret(token)
        self._token = token
        self._expires_at = time.time() + expires_in if expires_in else None

    def _request_token(self) -> tuple[str, float | None]:
        """POST the service account's JWT bearer grant, or the refresh-token grant (RFC 6749
        §6), to the token URL, through the guarded fetcher (URL rules, SSRF guard, bounded
        answer)."""
        auth = self._auth
        if self._service is not None:
            assert auth.token_url is not None
            return fetch_token(auth.token_url, self._service.grant(), self._policy, SERVICE_HINT)
        assert auth.access_url and auth.refresh_token and auth.client_id
        form = {
            "grant_type": "refresh_token",
            "client_id": auth.client_id,
            "refresh_token": auth.refresh_token.get_secret_value(),
        }
        if auth.client_secret is not None:
            form["client_secret"] = auth.client_secret.get_secret_value()
        if auth.scope:
            form["scope"] = auth.scope
        return fetch_token(auth.access_url, form, self._policy)


REFRESH_HINT = "Check auth.accessUrl, clientId, clientSecret and refreshToken."
SERVICE_HINT = (
    "Check auth.serviceClient, privateKey, user (the mailbox it acts for), scope and accessUrl, "
    "and that the service account may act for that user (domain-wide delegation)."
)


def fetch_token(
    url: str, form: dict[str, str], policy: UrlPolicy, hint: str = REFRESH_HINT
) -> tuple[str, float | None]:
    """The access token and its lifetime (seconds, when given) from a token endpoint."""
    try:
        body = post_form(url, form, policy)
    except TokenFetchError as exc:
        raise _token_error(str(exc), exc.retryable, hint) from None
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise _token_error("the token endpoint's answer has no access_token", False, hint)
    register_secret(token)
    expires_in = body.get("expires_in")
    return token, float(expires_in) if isinstance(expires_in, int | float) else None


def _token_error(why: str, retryable: bool, hint: str) -> ConnectorError:
    return ConnectorError(
        ErrorCode.AUTH_FAILED,
        f"Could not fetch the XOAUTH2 access token: {why}. {hint}",
        retryable=retryable,
        stage="auth",
        cause=Cause.AUTH_REFUSED,
        reason=f"no access token: {why}",
    )
