"""Configuration: Logto's JSON loads unchanged, every field round-trips, every validation error is
an `invalid_config` error that names the field and never echoes a secret."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from smtp_connector import (
    ConfigWarning,
    ConnectorError,
    ContentType,
    EmailTemplate,
    ErrorCode,
    SmtpConfig,
    SmtpConnector,
    UsageType,
)

# Logto's connector-smtp form defaults (packages/connectors/connector-smtp/src/constant.ts),
# with the host/fromEmail placeholders filled in as an admin would.
LOGTO_TEMPLATES: list[dict[str, str]] = [
    {
        "contentType": "text/plain",
        "content": "Your Logto sign-in verification code is {{code}}. "
        "The code will remain active for 10 minutes.",
        "subject": "Logto Sign In with SMTP",
        "usageType": "SignIn",
    },
    {
        "contentType": "text/plain",
        "content": "Your Logto sign-up verification code is {{code}}. "
        "The code will remain active for 10 minutes.",
        "subject": "Logto register with SMTP",
        "usageType": "Register",
    },
    {
        "contentType": "text/plain",
        "content": "Your Logto password change verification code is {{code}}. "
        "The code will remain active for 10 minutes.",
        "subject": "Logto Forgot Password with SMTP",
        "usageType": "ForgotPassword",
    },
    {
        "contentType": "text/plain",
        "content": "Your Logto verification code is {{code}}. "
        "The code will remain active for 10 minutes.",
        "subject": "Logto Generic with SMTP",
        "usageType": "Generic",
    },
]


@pytest.fixture
def secret() -> str:
    """A password unique to the test, so redaction registered by another test cannot hide a
    leak in this one."""
    return f"Pw-{uuid.uuid4().hex}-!x"


def logto_default(password: str) -> dict[str, Any]:
    return {
        "host": "smtp.example.com",
        "port": 587,
        "auth": {"type": "login", "user": "mailer@example.com", "pass": password},
        "fromEmail": "notice@example.com",
        "templates": copy.deepcopy(LOGTO_TEMPLATES),
    }


def logto_full(password: str) -> dict[str, Any]:
    """Logto's default plus every optional key its connector documents."""
    return logto_default(password) | {
        "replyTo": "do-reply@example.com",
        "logger": False,
        "debug": False,
        "disableFileAccess": False,
        "disableUrlAccess": False,
        "name": "logto-smtp.example.com",
        "localAddress": "127.0.0.1",
        "connectionTimeout": 2 * 60 * 1000,
        "greetingTimeout": 30 * 1000,
        "socketTimeout": 10 * 60 * 1000,
        "dnsTimeout": 30 * 1000,
        "secure": False,
        "tls": {},
        "servername": "smtp.example.com",
        "ignoreTLS": False,
        "requireTLS": True,
    }


# -- Logto's JSON, unchanged ---------------------------------------------------------------


def test_logto_default_config_loads_unchanged(secret: str) -> None:
    data = logto_default(secret)
    original = copy.deepcopy(data)
    config = SmtpConfig.model_validate(data)
    assert data == original  # validation does not mutate the caller's dict
    assert config.host == "smtp.example.com"
    assert config.port == 587
    assert config.from_email == "notice@example.com"
    assert config.auth.type == "login"
    assert config.auth.user == "mailer@example.com"
    assert config.auth.password == secret
    assert [t.usage_type for t in config.templates] == [
        "SignIn",
        "Register",
        "ForgotPassword",
        "Generic",
    ]
    assert all(t.content_type is ContentType.TEXT for t in config.templates)
    assert config.templates[0].subject == "Logto Sign In with SMTP"
    assert config.templates[0].content == LOGTO_TEMPLATES[0]["content"]


def test_logto_default_config_renders_each_template(secret: str) -> None:
    connector = SmtpConnector(SmtpConfig.model_validate(logto_default(secret)))
    for template in LOGTO_TEMPLATES:
        rendered = connector.render(template["usageType"], {"code": "482913"})
        assert rendered.subject == template["subject"]
        assert rendered.text == template["content"].replace("{{code}}", "482913")
        assert rendered.html is None
    # A usage type Logto's defaults lack falls back to its Generic template.
    mfa = connector.render(UsageType.MFA_VERIFICATION, {"code": "777111"})
    assert mfa.subject == "Logto Generic with SMTP"
    assert mfa.text is not None and "777111" in mfa.text


def test_logto_config_with_every_optional_key_loads(secret: str) -> None:
    config = SmtpConfig.model_validate(logto_full(secret))
    assert config.reply_to == "do-reply@example.com"
    assert config.logger is False and config.debug is False
    assert config.disable_file_access is False and config.disable_url_access is False
    assert config.name == "logto-smtp.example.com"
    assert config.local_address == "127.0.0.1"
    assert config.connection_timeout == 120_000
    assert config.greeting_timeout == 30_000
    assert config.socket_timeout == 600_000
    assert config.dns_timeout == 30_000
    assert config.secure is False
    assert config.tls.reject_unauthorized is True
    assert config.servername == "smtp.example.com"
    assert config.ignore_tls is False
    assert config.require_tls is True


def test_logto_json_text_loads_with_model_validate_json(secret: str) -> None:
    config = SmtpConfig.model_validate_json(json.dumps(logto_full(secret)))
    assert config == SmtpConfig.model_validate(logto_full(secret))


@pytest.mark.parametrize("kind", ["login", "Login", "LOGIN"])
def test_logto_login_type_in_any_case(kind: str, secret: str) -> None:
    data = logto_default(secret)
    data["auth"]["type"] = kind
    assert SmtpConfig.model_validate(data).auth.type == "login"


def test_logto_oauth2_auth_variant(secret: str) -> None:
    data = logto_default(secret)
    data["auth"] = {
        "type": "oauth2",
        "user": "mailer@example.com",
        "clientId": "client-id.apps.example.com",
        "clientSecret": f"cs-{secret}",
        "refreshToken": f"rt-{secret}",
        "accessToken": f"at-{secret}",
        "expires": 1_700_000_000_000,
        "accessUrl": "https://oauth2.example.com/token",
    }
    auth = SmtpConfig.model_validate(data).auth
    assert auth.type == "oauth2"
    assert auth.enabled
    assert auth.user == "mailer@example.com"
    assert auth.client_id == "client-id.apps.example.com"
    assert auth.client_secret is not None
    assert auth.client_secret.get_secret_value() == f"cs-{secret}"
    assert auth.refresh_token is not None
    assert auth.refresh_token.get_secret_value() == f"rt-{secret}"
    assert auth.access_token is not None
    assert auth.access_token.get_secret_value() == f"at-{secret}"
    assert auth.expires == 1_700_000_000_000
    assert auth.access_url == "https://oauth2.example.com/token"
    assert auth.can_refresh


@pytest.mark.parametrize(
    "private_key",
    [
        "-----BEGIN PRIVATE KEY-----\nMIIBVQ\n-----END PRIVATE KEY-----\n",
        {"key": "KEY", "passphrase": "pp"},
    ],
    ids=["string", "key-object"],
)
def test_logto_service_account_variant(private_key: str | dict[str, str], secret: str) -> None:
    data = logto_default(secret)
    data["auth"] = {
        "user": "mailer@example.com",
        "serviceClient": "113456789012345678901",
        "privateKey": private_key,
    }
    auth = SmtpConfig.model_validate(data).auth
    assert auth.type == "oauth2"  # inferred, as nodemailer does
    assert auth.service_client == "113456789012345678901"
    assert auth.private_key is not None
    expected = private_key if isinstance(private_key, str) else private_key["key"]
    assert auth.private_key.get_secret_value() == expected


@pytest.mark.parametrize("auth", [None, {}], ids=["null", "empty"])
def test_auth_omitted_or_empty_means_no_auth(auth: dict[str, Any] | None) -> None:
    data: dict[str, Any] = {"host": "relay.example.com", "port": 25, "fromEmail": "a@example.com"}
    assert SmtpConfig.model_validate(data).auth.enabled is False
    data["auth"] = auth
    assert SmtpConfig.model_validate(data).auth.enabled is False


# -- round trip and snake_case ------------------------------------------------------------


def full_config(password: str) -> dict[str, Any]:
    """Every Logto key plus the smtp-connector additions (except DKIM/S/MIME key material)."""
    return logto_full(password) | {
        "auth": {
            "type": "login",
            "user": "mailer@example.com",
            "pass": password,
            "method": "PLAIN",
        },
        "fromName": "Acme Sign-in",
        "defaultLocale": "de",
        "customHeaders": {"X-Tag": "signup", "List-Id": ["<codes.example.com>"]},
        "templates": [
            *copy.deepcopy(LOGTO_TEMPLATES),
            {
                "usageType": "MfaVerification",
                "locale": "de-AT",
                "contentType": "text/html",
                "subject": "Code {{ code }}",
                "textContent": "Code: {{ code }}",
                "htmlContent": "<p>Code: <b>{{ code }}</b></p>",
            },
        ],
        "tls": {
            "rejectUnauthorized": False,
            "servername": "smtp.example.com",
            "minVersion": "TLSv1.2",
            "maxVersion": "TLSv1.3",
            "ciphers": "HIGH:!aNULL",
        },
        "servers": [
            {
                "host": "backup.example.com",
                "port": 465,
                "secure": True,
                "priority": 2,
                "label": "backup",
                "auth": {"user": "backup@example.com", "pass": f"b-{password}"},
                "defaultFromEmail": "noreply@backup.example.com",
                "rateLimit": {"maxMessages": 5, "rateDelta": 2000},
            }
        ],
        "pool": {"maxConnections": 3, "maxMessages": 50, "idleTimeout": 1000},
        "rateLimit": {"maxMessages": 10, "rateDelta": 1000},
        "retry": {
            "attempts": 2,
            "initialDelay": 10,
            "maxDelay": 100,
            "deadline": 1000,
            "resendAfterLostReply": True,
        },
        "health": {"maxErrors": 2, "cooldown": 10},
        "throttle": {"perRecipientInterval": 1000, "perRecipientHourly": 5, "globalHourly": 100},
        "transport": "smtp",
        "pipelining": False,
        "refusePrivateHosts": True,
        "maxPayloadBytes": 4096,
    }


def test_every_field_round_trips_through_to_dict(secret: str) -> None:
    data = full_config(secret)
    config = SmtpConfig.model_validate(data)
    dumped = config.to_dict(reveal_secrets=True)
    again = SmtpConfig.model_validate(dumped)
    assert again == config
    assert again.to_dict(reveal_secrets=True) == dumped
    # The dump is camelCase on the wire, with Logto's exact spellings.
    for key in ("fromEmail", "replyTo", "requireTLS", "ignoreTLS", "connectionTimeout"):
        assert key in dumped
    assert dumped["auth"]["pass"] == secret
    assert dumped["servers"][0]["auth"]["pass"] == f"b-{secret}"
    assert dumped["tls"]["rejectUnauthorized"] is False
    # Every key given comes back with the value given (auth gains its inferred `type` only).
    for key, value in data.items():
        if key in ("auth", "servers"):
            continue
        assert dumped[key] == value, key


@pytest.mark.parametrize(
    "auth",
    [
        {
            "type": "oauth2",
            "user": "u@example.com",
            "clientId": "cid",
            "clientSecret": "client-secret-value",
            "refreshToken": "refresh-token-value",
            "accessToken": "access-token-value",
            "expires": 1,
            "accessUrl": "https://oauth2.example.com/token",
        },
        {"user": "u@example.com", "serviceClient": "1234", "privateKey": "PRIVATE-KEY-TEXT"},
        {},
    ],
    ids=["oauth2", "service-account", "none"],
)
def test_auth_variants_round_trip(auth: dict[str, Any]) -> None:
    config = SmtpConfig.model_validate(
        {"host": "smtp.example.com", "fromEmail": "a@example.com", "auth": auth}
    )
    assert SmtpConfig.model_validate(config.to_dict(reveal_secrets=True)) == config


def test_snake_case_attributes(secret: str) -> None:
    config = SmtpConfig.model_validate(full_config(secret))
    assert config.from_email == "notice@example.com"
    assert config.from_name == "Acme Sign-in"
    assert config.reply_to == "do-reply@example.com"
    assert config.auth.user == "mailer@example.com"
    assert config.require_tls is True
    assert config.ignore_tls is False
    assert config.default_locale == "de"
    assert config.custom_headers == {"X-Tag": "signup", "List-Id": ["<codes.example.com>"]}
    assert config.tls.min_version == "TLSv1.2"
    assert config.servers[0].default_from_email == "noreply@backup.example.com"
    assert config.servers[0].rate_limit is not None
    assert config.servers[0].rate_limit.rate_delta == 2000
    assert config.pool.max_connections == 3
    assert config.retry.resend_after_lost_reply is True
    assert config.throttle.per_recipient_hourly == 5
    assert config.max_payload_bytes == 4096
    mfa = config.templates[-1]
    assert isinstance(mfa, EmailTemplate)
    assert (mfa.usage_type, mfa.locale, mfa.html_content) == (
        "MfaVerification",
        "de-AT",
        "<p>Code: <b>{{ code }}</b></p>",
    )


def test_snake_case_keys_accepted_in_python(secret: str) -> None:
    by_name = SmtpConfig.model_validate(
        {
            "host": "smtp.example.com",
            "port": 587,
            "auth": {"user": "mailer@example.com", "pass_": secret},
            "from_email": "notice@example.com",
            "reply_to": "do-reply@example.com",
            "require_tls": True,
            "connection_timeout": 5000,
            "disable_url_access": True,
            "templates": [
                {
                    "usage_type": "SignIn",
                    "content_type": "text/plain",
                    "subject": "s",
                    "content": "c",
                }
            ],
        }
    )
    by_alias = SmtpConfig.model_validate(
        {
            "host": "smtp.example.com",
            "port": 587,
            "auth": {"user": "mailer@example.com", "pass": secret},
            "fromEmail": "notice@example.com",
            "replyTo": "do-reply@example.com",
            "requireTLS": True,
            "connectionTimeout": 5000,
            "disableUrlAccess": True,
            "templates": [
                {"usageType": "SignIn", "contentType": "text/plain", "subject": "s", "content": "c"}
            ],
        }
    )
    assert by_name == by_alias
    assert by_name.require_tls is True
    assert by_name.auth.password == secret
    kwargs = SmtpConfig(host="smtp.example.com", from_email="notice@example.com", ignore_tls=True)
    assert kwargs.ignore_tls is True
    assert kwargs.to_dict()["ignoreTLS"] is True


# -- validation errors ---------------------------------------------------------------------


def invalid(data: dict[str, Any]) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(data)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert info.value.retryable is False
    return info.value


@pytest.mark.parametrize("port", [0, -1, 65536, 70000])
def test_port_out_of_range(port: int, secret: str) -> None:
    error = invalid(logto_default(secret) | {"port": port})
    assert "port" in error.message
    assert "65535" in error.message


@pytest.mark.parametrize("port", [1, 25, 465, 587, 2525, 65535])
def test_port_in_range_accepted(port: int, secret: str) -> None:
    assert SmtpConfig.model_validate(logto_default(secret) | {"port": port}).port == port


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("fromEmail", "not-an-address"),
        ("fromEmail", "two@@example.com"),
        ("fromEmail", "a@example.com, b@example.com"),
        ("fromEmail", "noreply@example.com\r\nBcc: x@evil.example.net"),
        ("replyTo", "support-at-example.com"),
        ("replyTo", "support@"),
        ("replyTo", "help@example.com\nBcc: x@evil.example.net"),
    ],
)
def test_bad_email_address(key: str, value: str, secret: str) -> None:
    error = invalid(logto_default(secret) | {key: value})
    assert f"`{key}`" in error.message


def test_missing_from_email_names_field(secret: str) -> None:
    data = logto_default(secret)
    del data["fromEmail"]
    assert "`fromEmail`" in invalid(data).message


@pytest.mark.parametrize("name", ["mäil.example.com", "邮件.example.com", "mail host", ""])
def test_name_must_be_ascii_hostname(name: str, secret: str) -> None:
    error = invalid(logto_default(secret) | {"name": name})
    assert "`name`" in error.message
    assert "ASCII" in error.message


def test_name_punycode_accepted(secret: str) -> None:
    config = SmtpConfig.model_validate(logto_default(secret) | {"name": "xn--mil-via.example.com"})
    assert config.name == "xn--mil-via.example.com"


@pytest.mark.parametrize(
    "flags",
    [{"secure": True, "ignoreTLS": True}, {"requireTLS": True, "ignoreTLS": True}],
    ids=["secure", "requireTLS"],
)
def test_tls_flags_that_cancel_each_other_load_with_a_warning(
    flags: dict[str, bool], secret: str
) -> None:
    """Logto's schema accepts these; they load as written (nodemailer decides which flag wins,
    tests/config/test_logto_upstream.py) and a ConfigWarning says what will happen."""
    data = logto_default(secret) | flags
    with pytest.warns(ConfigWarning, match="ignoreTLS"):
        config = SmtpConfig.model_validate(data)
    assert config.to_dict(reveal_secrets=True) == data


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"requireTls": True}, "requireTls"),
        ({"fromemail": "a@example.com"}, "fromemail"),
        ({"auth": {"user": "u@example.com", "password": "x"}}, "auth.password"),
        ({"pool": {"maxConnection": 3}}, "pool.maxConnection"),
    ],
)
def test_unknown_key_is_named(patch: dict[str, Any], named: str, secret: str) -> None:
    error = invalid(logto_default(secret) | patch)
    assert named in error.message
    assert "unknown key" in error.message


def test_unknown_template_key_is_named(secret: str) -> None:
    data = logto_default(secret)
    data["templates"][0]["subjekt"] = "typo"
    error = invalid(data)
    assert "subjekt" in error.message
    assert "templates" in error.message
    assert "0" in error.message.split("subjekt")[0]  # which template: index 0


def test_template_without_body_is_invalid(secret: str) -> None:
    data = logto_default(secret)
    data["templates"].append({"usageType": "BindMfa", "subject": "no body"})
    assert "BindMfa" in invalid(data).message


# -- from_file: JSON and TOML with ${ENV} --------------------------------------------------


def test_from_file_json_expands_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("SC_TEST_SMTP_PASS", secret)
    monkeypatch.setenv("SC_TEST_SMTP_HOST", "smtp.env.example.com")
    monkeypatch.delenv("SC_TEST_SMTP_DOMAIN", raising=False)
    monkeypatch.delenv("SC_TEST_APP", raising=False)
    data = logto_default("${SC_TEST_SMTP_PASS}")
    data["host"] = "${SC_TEST_SMTP_HOST}"
    data["fromEmail"] = "noreply@${SC_TEST_SMTP_DOMAIN:-example.org}"
    data["templates"][0]["subject"] = "Sign in to ${SC_TEST_APP:-Acme}"
    path = tmp_path / "smtp.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    config = SmtpConfig.from_file(path)
    assert config.auth.password == secret
    assert config.host == "smtp.env.example.com"
    assert config.from_email == "noreply@example.org"
    assert config.templates[0].subject == "Sign in to Acme"
    # {{code}} and other text that is not ${...} is left alone.
    assert config.templates[0].content == LOGTO_TEMPLATES[0]["content"]


def test_from_file_toml_expands_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("SC_TEST_SMTP_PASS", secret)
    monkeypatch.delenv("SC_TEST_SMTP_USER", raising=False)
    path = tmp_path / "smtp.toml"
    path.write_text(
        """
host = "smtp.example.com"
port = 465
secure = true
fromEmail = "noreply@example.com"
requireTLS = true

[auth]
user = "${SC_TEST_SMTP_USER:-mailer@example.com}"
pass = "${SC_TEST_SMTP_PASS}"

[[templates]]
usageType = "SignIn"
contentType = "text/plain"
subject = "Logto Sign In with SMTP"
content = "Your code is {{code}}."
""",
        encoding="utf-8",
    )
    config = SmtpConfig.from_file(path)
    assert config.auth.user == "mailer@example.com"
    assert config.auth.password == secret
    assert config.port == 465 and config.secure is True and config.require_tls is True
    assert config.templates[0].content == "Your code is {{code}}."


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_from_file_missing_env_var_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.delenv("SC_TEST_UNSET_PASSWORD", raising=False)
    path = tmp_path / f"smtp{suffix}"
    if suffix == ".json":
        data = logto_default("${SC_TEST_UNSET_PASSWORD}")
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text(
            'host = "smtp.example.com"\nfromEmail = "a@example.com"\n'
            '[auth]\nuser = "u"\npass = "${SC_TEST_UNSET_PASSWORD}"\n',
            encoding="utf-8",
        )
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.from_file(path)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "SC_TEST_UNSET_PASSWORD" in info.value.message
    assert "auth.pass" in info.value.message


def test_from_file_env_value_cannot_inject_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Expansion happens on parsed values: quotes in a secret are data, not JSON syntax.
    tricky = 'a"b\\c", "ignoreTLS": true, "x": "'
    monkeypatch.setenv("SC_TEST_TRICKY", tricky)
    path = tmp_path / "smtp.json"
    path.write_text(json.dumps(logto_default("${SC_TEST_TRICKY}")), encoding="utf-8")
    config = SmtpConfig.from_file(path)
    assert config.auth.password == tricky
    assert config.ignore_tls is False


@pytest.mark.parametrize(
    ("suffix", "text"),
    [(".json", '{"host": "smtp.example.com",'), (".toml", "host = smtp.example.com\n")],
)
def test_from_file_syntax_error(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"smtp{suffix}"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.from_file(path)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert ("JSON" if suffix == ".json" else "TOML") in info.value.message


def test_from_file_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.from_file(tmp_path / "absent.json")
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "absent.json" in info.value.message


def test_from_file_invalid_value_is_invalid_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("SC_TEST_SMTP_PASS", secret)
    path = tmp_path / "smtp.toml"
    path.write_text(
        'host = "smtp.example.com"\nport = 99999\nfromEmail = "a@example.com"\n'
        '[auth]\nuser = "u"\npass = "${SC_TEST_SMTP_PASS}"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.from_file(path)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "port" in info.value.message
    assert secret not in str(info.value) and secret not in repr(info.value)


def test_non_mapping_config_is_invalid_config() -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(["host", "smtp.example.com"])
    assert info.value.code is ErrorCode.INVALID_CONFIG


# -- secrets never leak --------------------------------------------------------------------


def assert_no_leak(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text


@pytest.mark.parametrize(
    "breakage",
    [
        {"port": 70000},
        {"fromEmail": "broken"},
        {"replyTo": "broken"},
        {"name": "mäil"},
        {"auth": {"type": "oauth2"}},
        {"requireTls": True},
        {"customHeaders": {"Bcc": "x@evil.example.net"}},
    ],
    ids=["port", "fromEmail", "replyTo", "name", "oauth2-no-user", "unknown-key", "header"],
)
def test_errors_never_contain_the_password(breakage: dict[str, Any], secret: str) -> None:
    error = invalid(logto_full(secret) | breakage)
    assert_no_leak(secret, str(error), repr(error), error.message, json.dumps(error.to_dict()))
    assert_no_leak(secret, repr(error.details))


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "oauth2", "user": "u@example.com", "pass": "SECRET"},
        {"type": "login", "user": "u@example.com", "pass": "SECRET", "passwd": "SECRET"},
        {"type": "kerberos", "user": "u@example.com", "pass": "SECRET"},
        {"type": "oauth2", "accessToken": "SECRET"},
        {"type": "oauth2", "user": "u@example.com", "clientSecret": "SECRET", "expires": "soon"},
    ],
    ids=["pass-with-oauth2", "typo-key", "bad-type", "oauth2-no-user", "bad-expires"],
)
def test_auth_errors_never_contain_the_secret(auth: dict[str, Any], secret: str) -> None:
    data = logto_default(secret)
    data["auth"] = {k: (secret if v == "SECRET" else v) for k, v in auth.items()}
    error = invalid(data)
    assert "auth" in error.message
    assert_no_leak(secret, str(error), repr(error), json.dumps(error.to_dict()))


def test_config_reprs_and_masked_dump_never_contain_secrets(secret: str) -> None:
    data = full_config(secret)
    data["auth"] = {
        "type": "oauth2",
        "user": "mailer@example.com",
        "clientId": "cid",
        "clientSecret": f"cs-{secret}",
        "refreshToken": f"rt-{secret}",
        "accessToken": f"at-{secret}",
        "accessUrl": "https://oauth2.example.com/token",
    }
    config = SmtpConfig.model_validate(data)
    masked = config.to_dict()
    texts = [
        repr(config),
        str(config),
        repr(config.auth),
        str(config.auth),
        repr(config.servers),
        json.dumps(masked),
        config.model_dump_json(),
        repr(config.model_dump()),
    ]
    assert_no_leak(secret, *texts)
    assert masked["auth"]["clientSecret"] == "**********"
    assert masked["auth"]["accessToken"] == "**********"
    assert masked["servers"][0]["auth"]["pass"] == "**********"
    # ... while the revealed dump, for writing a config file, has them.
    revealed = config.to_dict(reveal_secrets=True)
    assert revealed["auth"]["refreshToken"] == f"rt-{secret}"
    assert revealed["servers"][0]["auth"]["pass"] == f"b-{secret}"


def test_login_password_masked(secret: str) -> None:
    config = SmtpConfig.model_validate(logto_full(secret))
    assert config.to_dict()["auth"]["pass"] == "**********"
    assert_no_leak(secret, repr(config), str(config), json.dumps(config.to_dict()))


def test_service_account_private_key_masked(secret: str) -> None:
    data = logto_default(secret)
    data["auth"] = {"user": "u@example.com", "serviceClient": "1", "privateKey": f"pk-{secret}"}
    config = SmtpConfig.model_validate(data)
    assert config.to_dict()["auth"]["privateKey"] == "**********"
    assert_no_leak(secret, repr(config.auth), json.dumps(config.to_dict()))
