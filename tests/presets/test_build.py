"""`SmtpConfig.from_preset`: host, port, TLS, username convention and overrides per provider."""

from __future__ import annotations

from typing import Any

import pytest
from preset_helpers import SECRET, preset, quiet_from_preset

from smtp_connector.config import SmtpConfig
from smtp_connector.errors import ConnectorError, ErrorCode

# ------------------------------------------------------------------------------------------
# from_preset
# ------------------------------------------------------------------------------------------


def test_gmail_from_preset() -> None:
    config = quiet_from_preset("gmail", user="me@gmail.com", password=SECRET)
    assert (config.host, config.port, config.implicit_tls) == ("smtp.gmail.com", 465, True)
    assert config.auth.user == "me@gmail.com" and config.auth.password == SECRET
    assert config.from_email == "me@gmail.com"


def test_from_preset_by_email_address() -> None:
    config = quiet_from_preset("me@gmail.com", password=SECRET)
    assert config.host == "smtp.gmail.com" and config.auth.user == "me@gmail.com"


def test_sendgrid_fills_the_literal_username() -> None:
    config = quiet_from_preset("sendgrid", password=SECRET, from_email="no-reply@example.com")
    assert config.auth.user == "apikey"
    assert (config.port, config.secure, config.require_tls) == (587, False, True)


def test_literal_username_cannot_be_overridden() -> None:
    with pytest.raises(ConnectorError, match="literal 'apikey'") as info:
        SmtpConfig.from_preset(
            "sendgrid", user="me@example.com", password=SECRET, from_email="a@example.com"
        )
    assert info.value.code is ErrorCode.INVALID_CONFIG


@pytest.mark.parametrize(
    ("region", "host"),
    [
        (None, "smtpdm.aliyun.com"),
        ("singapore", "smtpdm-ap-southeast-1.aliyuncs.com"),
        ("us-east-1", "smtpdm-us-east-1.aliyuncs.com"),
        ("EU-CENTRAL-1", "smtpdm-eu-central-1.aliyuncs.com"),
    ],
)
def test_aliyun_regions(region: str | None, host: str) -> None:
    config = quiet_from_preset(
        "aliyun", user="noreply@mail.example.com", password=SECRET, region=region
    )
    assert config.host == host
    assert config.from_email == "noreply@mail.example.com" == config.auth.user
    assert (config.port, config.implicit_tls) == (465, True)


@pytest.mark.parametrize("region", ["eu-west-1", "eu-south-2", "us-gov-west-1"])
def test_ses_host_by_region_template(region: str) -> None:
    config = quiet_from_preset(
        "ses", user="AKIAEXAMPLE", password=SECRET, from_email="a@example.com", region=region
    )
    assert config.host == f"email-smtp.{region}.amazonaws.com"


def test_alias_and_domain_imply_the_region() -> None:
    assert (
        quiet_from_preset("mailgun-eu", user="postmaster@mg.example.com", password=SECRET).host
        == "smtp.eu.mailgun.org"
    )
    assert quiet_from_preset("zoho", user="me@zohomail.eu", password=SECRET).host == "smtp.zoho.eu"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"port": 587}, (587, False, True)),
        ({"tls_mode": "starttls"}, (587, False, True)),
        ({"tls": "implicit"}, (465, True, False)),
        ({"secure": False}, (587, False, True)),
    ],
)
def test_port_and_tls_mode_choose_each_other(
    kwargs: dict[str, Any], expected: tuple[int, bool, bool]
) -> None:
    config = quiet_from_preset("gmail", user="me@gmail.com", password=SECRET, **kwargs)
    assert (config.port, config.implicit_tls, config.require_tls) == expected


def test_overrides_in_snake_or_camel_case() -> None:
    templates = [{"usage_type": "SignIn", "subject": "Code", "content": "{{code}}"}]
    config = quiet_from_preset(
        "gmail",
        user="me@gmail.com",
        password=SECRET,
        reply_to="help@example.com",
        connectionTimeout=5000,
        from_name="Example",
        templates=templates,
        auth={"method": "LOGIN"},
        pool={"max_connections": 2},
    )
    assert config.reply_to == "help@example.com"
    assert config.connection_timeout == 5000
    assert config.from_name == "Example"
    assert config.templates[0].usage_type == "SignIn"
    assert (config.auth.method, config.auth.user) == ("LOGIN", "me@gmail.com")
    assert config.pool.max_connections == 2


def test_unknown_override_is_named() -> None:
    with pytest.raises(ConnectorError, match="hostnme") as info:
        SmtpConfig.from_preset("gmail", user="me@gmail.com", password=SECRET, hostnme="x")
    assert info.value.code is ErrorCode.INVALID_CONFIG


def test_account_username_defaults() -> None:
    mailgun = quiet_from_preset("mailgun", password=SECRET, from_email="no-reply@mg.example.com")
    assert mailgun.auth.user == "postmaster@mg.example.com"
    postmark = quiet_from_preset("postmark", password=SECRET, from_email="no-reply@example.com")
    assert postmark.auth.user == SECRET == postmark.auth.password
    with pytest.raises(ConnectorError, match="needs `user`"):
        SmtpConfig.from_preset(
            "ses", password=SECRET, from_email="a@example.com", region="us-east-1"
        )


def test_preset_config_settings() -> None:
    sparkpost = quiet_from_preset("sparkpost", password=SECRET, from_email="a@example.com")
    assert sparkpost.pool.max_messages == 100
    m365 = quiet_from_preset("microsoft365", user="me@contoso.com", password=SECRET)
    assert m365.rate_limit is not None
    assert (m365.rate_limit.max_messages, m365.rate_limit.rate_delta) == (30, 60_000)


def test_outlook_oauth2_config() -> None:
    config = quiet_from_preset(
        "outlook", user="me@outlook.com", refresh_token=SECRET, client_id="app-id"
    )
    assert config.auth.type == "oauth2"
    assert config.auth.access_url == preset("outlook").auth.oauth2.token_url  # type: ignore[union-attr]
    assert config.auth.refresh_token is not None


def test_missing_password_is_reported() -> None:
    with pytest.raises(ConnectorError, match="needs `password`"):
        SmtpConfig.from_preset("gmail", user="me@gmail.com")
    with pytest.raises(ConnectorError, match="needs OAuth2"):
        SmtpConfig.from_preset("outlook", user="me@outlook.com")
    with pytest.raises(ConnectorError, match="from_email"):
        SmtpConfig.from_preset("sendgrid", password=SECRET)


def test_ip_allow_listed_relay_needs_no_auth() -> None:
    config = quiet_from_preset("google-workspace-relay", from_email="app@example.com")
    assert not config.auth.enabled
