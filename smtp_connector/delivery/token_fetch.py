"""The library's only URL access: POSTing a grant to an OAuth2 token endpoint, guarded.

A token URL comes from config that an admin console may let anyone edit, so fetching it is an
SSRF and credential-leak surface. Every fetch here obeys the same rules: `disableUrlAccess`
forbids it; the URL is https, or http to a loopback address only (`token_url_problem`); the
host's addresses are resolved once, checked (loopback for http; public for `refusePrivateHosts`)
and the connection goes to a checked address, so DNS cannot answer differently the second time;
redirects are not followed; the answer is read up to `MAX_RESPONSE_BYTES`. Errors never quote the
URL or the answer (either may carry a secret).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ..config import token_url_problem
from ..errors import ConnectorError, ErrorCode
from .network import is_public_address

MAX_RESPONSE_BYTES = 64 * 1024
REQUEST_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class UrlPolicy:
    """What the config allows: any fetch at all (`not disableUrlAccess`), and whether the token
    host must resolve to public addresses only (`refusePrivateHosts`)."""

    allow: bool = True
    refuse_private: bool = False


class TokenFetchError(Exception):
    """Why a fetch failed, secret-free; `retryable` when trying again later may help."""

    def __init__(self, why: str, retryable: bool) -> None:
        super().__init__(why)
        self.retryable = retryable


def post_form(
    url: str, form: dict[str, str], policy: UrlPolicy, timeout: float = REQUEST_TIMEOUT_S
) -> dict[str, Any]:
    """POST `form` to `url` and return the JSON object it answers. Raises `TokenFetchError`,
    or `ConnectorError(invalid_config)` when the config forbids the fetch."""
    _check_allowed(url, policy)
    parts = urllib.parse.urlsplit(url.strip())
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    sock = _connect_checked(host, port, https, policy, timeout)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    connection.sock = _tls_wrap(sock, host) if https else sock
    body = urllib.parse.urlencode(form).encode("ascii")
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    try:
        connection.request(
            "POST",
            target,
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        return _read_json(connection.getresponse())
    except (OSError, http.client.HTTPException) as exc:
        why = f"the token endpoint could not be reached ({_why(exc)})"
        raise TokenFetchError(why, True) from None
    finally:
        connection.close()


def _check_allowed(url: str, policy: UrlPolicy) -> None:
    if not policy.allow:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            "A token would be fetched from `auth.accessUrl`, but `disableUrlAccess` is set, "
            "which forbids every URL fetch; give `auth.accessToken` or a token_provider.",
            retryable=False,
        )
    problem = token_url_problem(url)
    if problem:
        raise ConnectorError(ErrorCode.INVALID_CONFIG, f"Invalid SMTP config: {problem}.")


def _connect_checked(
    host: str, port: int, https: bool, policy: UrlPolicy, timeout: float
) -> socket.socket:
    """Resolve once, refuse a forbidden address, connect to the first allowed one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TokenFetchError(f"the token host does not resolve ({_why(exc)})", True) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not https and not address.is_loopback:
            raise TokenFetchError(
                f"the http:// token host resolves to {address}, which is not loopback", False
            )
        if policy.refuse_private and not is_public_address(address):
            raise TokenFetchError(
                f"the token host resolves to a non-public address ({address}) and "
                "`refusePrivateHosts` is set",
                False,
            )
    last: OSError | None = None
    for *_, sockaddr in infos:
        try:
            return socket.create_connection((str(sockaddr[0]), int(sockaddr[1])), timeout=timeout)
        except OSError as exc:
            last = exc
    raise TokenFetchError(f"the token endpoint could not be reached ({_why(last)})", True)


def _tls_wrap(sock: socket.socket, host: str) -> socket.socket:
    context = ssl.create_default_context()
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        raise TokenFetchError(f"TLS with the token endpoint failed ({_why(exc)})", False) from None


def _read_json(response: http.client.HTTPResponse) -> dict[str, Any]:
    if response.status in (301, 302, 303, 307, 308):
        raise TokenFetchError(
            f"the token endpoint answered HTTP {response.status} (a redirect, not followed)",
            False,
        )
    data = response.read(MAX_RESPONSE_BYTES + 1)
    if len(data) > MAX_RESPONSE_BYTES:
        raise TokenFetchError(
            f"the token endpoint's answer is over {MAX_RESPONSE_BYTES} bytes", False
        )
    if response.status != 200:
        raise TokenFetchError(
            f"the token endpoint answered HTTP {response.status}", response.status >= 500
        )
    try:
        body = json.loads(data.decode("utf-8"))
    except ValueError:
        raise TokenFetchError("the token endpoint did not answer with JSON", False) from None
    if not isinstance(body, dict):
        raise TokenFetchError("the token endpoint did not answer with a JSON object", False)
    return body


def _why(exc: BaseException | None) -> str:
    if exc is None:
        return "no address"
    return getattr(exc, "strerror", None) or type(exc).__name__
