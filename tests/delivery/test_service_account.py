"""Logto's service-account OAuth2 end to end: the connector signs a JWT (RS256) with the
configured key, a loopback token endpoint verifies it (signature against the public key, `iss`,
`sub`, `aud`, `scope`, `exp`) and issues a token, and aiosmtpd's `auth_XOAUTH2` handler accepts
only tokens that endpoint issued."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from http_servers import HttpEndpoint, HttpReply, HttpRequest
from smtp_servers import MakeServer, TestServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConfig, SmtpConnector

jwt = pytest.importorskip("jwt", reason="service accounts need the oauth2 extra (PyJWT)")
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

SERVICE_CLIENT = "mailer@project.iam.gserviceaccount.com"
MAILBOX = "no-reply@example.com"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey, passphrase: bytes | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


@dataclass
class TokenService:
    """Verifies the assertion like Google does and hands out numbered tokens; `smtp_tokens` is
    the SMTP server's token table, so only tokens issued here are accepted there."""

    public_key: Any
    smtp_tokens: dict[str, str]
    scope: str = "https://mail.google.com/"
    lifetime: int = 3600
    revoke_first: bool = False  # the first token issued is never accepted by the SMTP server
    claims: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    url: str = ""
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __call__(self, request: HttpRequest) -> HttpReply:
        try:
            claims = self._verify(request)
        except (jwt.InvalidTokenError, ValueError) as error:
            self.refusals.append(type(error).__name__)
            return HttpReply.json({"error": "invalid_grant"}, status=400)
        self.claims.append(claims)
        token = f"ya29.issued-{next(self._serial)}"
        if not (self.revoke_first and len(self.claims) == 1):
            self.smtp_tokens[token] = claims["sub"]
        return HttpReply.json(
            {"access_token": token, "expires_in": self.lifetime, "token_type": "Bearer"}
        )

    def _verify(self, request: HttpRequest) -> dict[str, Any]:
        if request.form.get("grant_type") != JWT_BEARER:
            raise ValueError("not a JWT bearer grant")
        claims: dict[str, Any] = jwt.decode(
            request.form["assertion"],
            self.public_key,
            algorithms=["RS256"],
            audience=self.url,
            issuer=SERVICE_CLIENT,
            options={"require": ["exp", "iat", "iss", "sub", "aud"]},
        )
        if claims.get("scope") != self.scope or claims["exp"] - claims["iat"] > 3600:
            raise ValueError("wrong scope or lifetime")
        return claims


@pytest.fixture
def smtp(make_server: MakeServer) -> TestServer:
    return make_server(mode="starttls", auth_required=True)


@pytest.fixture
def service(signing_key: rsa.RSAPrivateKey, smtp: TestServer) -> Iterator[TokenService]:
    token_service = TokenService(signing_key.public_key(), smtp.behaviour.tokens)
    endpoint = HttpEndpoint(token_service)
    token_service.url = endpoint.url
    yield token_service
    endpoint.close()


def account_config(smtp: TestServer, service: TokenService, key: str, **auth: Any) -> dict:
    """Logto's service-account shape, plus the token URL of the local endpoint."""
    login = {"user": MAILBOX, "serviceClient": SERVICE_CLIENT, "privateKey": key}
    login |= {"accessUrl": service.url} | auth
    return config_for(smtp, auth=login, tls={"ca": smtp.ca_pem})


@pytest.fixture(autouse=True)
def _ca(smtp: TestServer, ca_pem: str) -> None:
    smtp.ca_pem = ca_pem  # type: ignore[attr-defined]


async def test_signed_jwt_buys_a_token_that_smtp_accepts(
    smtp: TestServer, service: TokenService, signing_key: rsa.RSAPrivateKey
) -> None:
    async with SmtpConnector(account_config(smtp, service, pem(signing_key))) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "111111"})
        await connector.send("other@example.org", "SignIn", {"code": "222222"})
    ((claims),) = service.claims  # one exchange: the token is cached
    assert (claims["iss"], claims["sub"], claims["aud"]) == (SERVICE_CLIENT, MAILBOX, service.url)
    assert smtp.handler.auth_attempts == [("XOAUTH2", MAILBOX)]
    assert [m.rcpt_tos for m in smtp.messages] == [["user@example.org"], ["other@example.org"]]


async def test_a_key_the_endpoint_does_not_know_is_auth_failed(
    smtp: TestServer, service: TokenService
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with SmtpConnector(account_config(smtp, service, pem(stranger))) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("user@example.org", "SignIn", {"code": "1"})
    error = info.value
    assert error.code is ErrorCode.AUTH_FAILED
    assert "serviceClient" in error.message and "HTTP 400" in error.message
    assert service.refusals == ["InvalidSignatureError"]
    assert smtp.handler.auth_attempts == [] and smtp.messages == []


async def test_a_rejected_token_is_replaced_once(
    smtp: TestServer, service: TokenService, signing_key: rsa.RSAPrivateKey
) -> None:
    service.revoke_first = True
    async with SmtpConnector(account_config(smtp, service, pem(signing_key))) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "1"})
    assert len(service.claims) == 2  # the 535 after the first token fetched a fresh one
    assert smtp.handler.auth_attempts == [("XOAUTH2", MAILBOX), ("XOAUTH2", MAILBOX)]
    assert len(smtp.messages) == 1


async def test_a_token_near_expiry_is_fetched_again(
    smtp: TestServer, service: TokenService, signing_key: rsa.RSAPrivateKey
) -> None:
    service.lifetime = 30  # inside the one-minute margin: never reused
    config = account_config(smtp, service, pem(signing_key)) | {"pool": {"maxMessages": 1}}
    async with SmtpConnector(config) as connector:
        await connector.send("user@example.org", "SignIn", {"code": "1"})
        await connector.send("user@example.org", "SignIn", {"code": "2"})
    assert len(service.claims) == 2


async def test_logto_key_with_passphrase_and_custom_scope(
    smtp: TestServer, service: TokenService, signing_key: rsa.RSAPrivateKey
) -> None:
    service.scope = "https://outlook.office.com/SMTP.Send"
    key = {"key": pem(signing_key, b"key-passphrase-42"), "passphrase": "key-passphrase-42"}
    config = account_config(smtp, service, key, scope=service.scope)  # type: ignore[arg-type]
    async with SmtpConnector(config) as connector:
        ((_, steps),) = await connector.verify()
    assert [s.detail for s in steps if s.name == "auth"] == ["XOAUTH2"]
    assert service.claims[0]["scope"] == service.scope


def test_key_file_path_is_read(
    smtp: TestServer, service: TokenService, signing_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    path = tmp_path / "service-account.pem"
    path.write_text(pem(signing_key))
    SmtpConnector(account_config(smtp, service, str(path)))  # loads and checks the key
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(account_config(smtp, service, str(path)) | {"disableFileAccess": True})
    assert "disableFileAccess" in info.value.message


@pytest.mark.parametrize(
    "key", ["not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"]
)
def test_a_bad_key_fails_when_the_connector_is_built(
    smtp: TestServer, service: TokenService, key: str
) -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(account_config(smtp, service, key))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "auth.privateKey" in info.value.message
    assert "AAAA" not in info.value.message
    assert service.claims == [] and service.refusals == []


def test_missing_extra_is_invalid_config(
    smtp: TestServer,
    service: TokenService,
    signing_key: rsa.RSAPrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)  # as if PyJWT were not installed
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(account_config(smtp, service, pem(signing_key)))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "smtp-connector[oauth2]" in info.value.message


def test_disable_url_access_refuses_a_service_account(
    smtp: TestServer, service: TokenService, signing_key: rsa.RSAPrivateKey
) -> None:
    config = account_config(smtp, service, pem(signing_key), accessUrl=None)
    config["auth"].pop("accessUrl")
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(config | {"disableUrlAccess": True})
    assert "disableUrlAccess" in info.value.message
    loaded = SmtpConfig.model_validate(config)
    assert loaded.auth.token_url == "https://oauth2.googleapis.com/token"  # Google's, by default
    assert json.dumps(loaded.to_dict()).count(SERVICE_CLIENT) == 1
