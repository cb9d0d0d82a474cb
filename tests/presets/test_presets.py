"""Provider presets: the data files, lookup, `from_preset`, the guard rails, and the CLI.

The "sends through a local server" tests prove each generated config is complete: only host,
port and TLS are pointed at a local aiosmtpd server, everything else (username convention,
auth block, From, pool/rate settings) is what the preset produced.
"""

from __future__ import annotations

import base64
import json
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from click.testing import CliRunner

from smtp_connector import resources
from smtp_connector.cli import main
from smtp_connector.config import SmtpConfig
from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.ports import IMPLICIT_TLS_PORTS
from smtp_connector.presets import (
    Preset,
    PresetConfigWarning,
    catalog,
    check_preset_rules,
    find_preset,
    get_preset,
    list_presets,
    parse_preset,
    preset_files,
    preset_warnings,
)
from smtp_connector.presets.model import TLS_MODES

SECRET = "Sup3r-Secret-Pw!x9"
REQUIRED = {
    "gmail",
    "google-workspace-relay",
    "sendgrid",
    "aliyun",
    "ses",
    "microsoft365",
    "outlook",
    "mailgun",
    "postmark",
    "brevo",
    "mailjet",
    "zoho",
    "resend",
    "qq",
    "exmail",
    "netease-163",
    "netease-126",
    "yahoo",
    "icloud",
    "fastmail",
    "sparkpost",
    "mailtrap-sandbox",
    "mailtrap",
}


def preset(name: str) -> Preset:
    found = get_preset(name)
    assert found is not None, name
    return found


def codes(config: SmtpConfig, **kwargs: Any) -> dict[str, str]:
    """Guard-rail code → severity for a config."""
    return {w.code: w.severity for w in preset_warnings(config, **kwargs)}


def raw_config(**values: Any) -> SmtpConfig:
    """A config as a user would write it by hand (no preset involved)."""
    base: dict[str, Any] = {"fromEmail": "me@example.com"}
    return SmtpConfig.model_validate(base | values)


def quiet_from_preset(name: str, **kwargs: Any) -> SmtpConfig:
    """from_preset, failing the test on any guard-rail warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetConfigWarning)
        return SmtpConfig.from_preset(name, **kwargs)


# ------------------------------------------------------------------------------------------
# The data files
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", preset_files())
def test_every_preset_file_validates(filename: str) -> None:
    text = resources.read_text("provider_presets", filename)
    parsed = parse_preset(text, filename)
    assert f"{parsed.name}.toml" == filename
    assert parsed.docs_url.startswith("https://")
    assert parsed.default_port in parsed.ports


def test_presets_cover_the_required_providers() -> None:
    names = list_presets()
    assert names == sorted(names)
    assert set(names) >= REQUIRED
    assert len(names) == len(preset_files())


@pytest.mark.parametrize("name", list_presets())
def test_every_port_tls_pair_is_consistent(name: str) -> None:
    for spec in preset(name).ports:
        assert spec.tls in TLS_MODES
        if spec.port in IMPLICIT_TLS_PORTS:
            assert spec.tls == "implicit", (name, spec.port)
        else:
            assert spec.tls in ("starttls", "plain"), (name, spec.port)


def _gmail_text() -> str:
    return resources.read_text("provider_presets", "gmail.toml")


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ('port = 587\ntls = "starttls"', 'port = 587\ntls = "implicit"', "port 587"),
        ('port = 465\ntls = "implicit"', 'port = 465\ntls = "starttls"', "port 465"),
        ('tls = "starttls"', 'tls = "starttls"\ndefault = true', "exactly one port"),
        ('rule = "email"', 'rule = "literal"', "`value` is required"),
        ('"PLAIN", "LOGIN", "XOAUTH2"', '"PLAIN", "LOGIN"', "XOAUTH2"),
        ('host = "smtp.gmail.com"', 'host = "smtp.{region}.gmail.com"', "region"),
    ],
)
def test_invalid_preset_data_is_rejected(old: str, new: str, complaint: str) -> None:
    text = _gmail_text()
    assert old in text
    with pytest.raises(ConnectorError) as info:
        parse_preset(text.replace(old, new, 1), "gmail.toml")
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert complaint in info.value.message


def test_unknown_keys_in_preset_data_are_rejected() -> None:
    with pytest.raises(ConnectorError, match="hostname"):
        parse_preset(_gmail_text() + '\nhostname = "x"\n', "gmail.toml")


def test_secondary_source_facts_are_marked_unverified() -> None:
    assert not preset("brevo").username.verified and not preset("brevo").password.verified
    assert not preset("mailjet").password.verified
    assert not preset("qq").password.verified
    assert not preset("yahoo").password.verified
    assert not preset("google-workspace-relay").auth.verified
    fastmail = preset("fastmail")
    assert fastmail.port_spec(587).verified is False  # type: ignore[union-attr]
    assert fastmail.port_spec(465).verified is True  # type: ignore[union-attr]
    assert preset("gmail").unverified == []
    assert "port 587" in fastmail.unverified


def test_aliyun_has_every_region_from_the_facts() -> None:
    aliyun = preset("aliyun")
    hosts = {aliyun.host_for(region.id) for region in aliyun.regions}
    assert hosts == {
        "smtpdm.aliyun.com",
        "smtpdm-ap-southeast-1.aliyuncs.com",
        "smtpdm-us-east-1.aliyuncs.com",
        "smtpdm-eu-central-1.aliyuncs.com",
        "smtpdm-ap-southeast-1.aliyun.com",
        "smtpdm-ap-southeast-2.aliyun.com",
    }
    legacy = [r.id for r in aliyun.regions if r.deprecated]
    assert legacy == ["ap-southeast-1-legacy", "ap-southeast-2-legacy"]


@pytest.mark.parametrize(
    ("name", "hosts"),
    [
        (
            "zoho",
            {f"smtp.zoho.{tld}" for tld in ("com", "eu", "in", "com.au", "jp", "com.cn", "sa")},
        ),
        ("mailgun", {"smtp.mailgun.org", "smtp.eu.mailgun.org"}),
        ("sparkpost", {"smtp.sparkpostmail.com", "smtp.eu.sparkpostmail.com"}),
        ("mailtrap", {"live.smtp.mailtrap.io", "bulk.smtp.mailtrap.io"}),
        ("exmail", {"smtp.exmail.qq.com", "hwsmtp.exmail.qq.com"}),
    ],
)
def test_regional_hosts(name: str, hosts: set[str]) -> None:
    found = preset(name)
    assert {found.host_for(region.id) for region in found.regions} == hosts


def test_presets_are_parsed_once() -> None:
    assert get_preset("gmail") is get_preset("GMAIL")


def test_preset_data_comes_through_package_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog reads only via `smtp_connector.resources` (importlib.resources), once."""
    reads: list[str] = []
    gmail = _gmail_text().replace('name = "gmail"', 'name = "only-one"')

    class FakeResources:
        @staticmethod
        def list_files(folder: str, suffix: str) -> list[str]:
            assert (folder, suffix) == ("provider_presets", ".toml")
            return ["only-one.toml"]

        @staticmethod
        def read_text(folder: str, filename: str) -> str:
            reads.append(filename)
            return gmail

    caches = [catalog._all_presets, catalog._name_index, catalog._domain_index]
    monkeypatch.setattr(catalog, "resources", FakeResources)
    for cache in caches:
        cache.cache_clear()
    try:
        assert list_presets() == ["only-one"]
        assert preset("me@gmail.com").name == "only-one"
        assert reads == ["only-one.toml"]
    finally:
        for cache in caches:
            cache.cache_clear()


# ------------------------------------------------------------------------------------------
# Lookup
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("gmail", "gmail"),
        ("GMAIL", "gmail"),
        (" Gmail ", "gmail"),
        ("Google Mail", "gmail"),
        ("googlemail", "gmail"),
        ("Office 365", "microsoft365"),
        ("exchange-online", "microsoft365"),
        ("hotmail", "outlook"),
        ("Sendinblue", "brevo"),
        ("Amazon SES", "ses"),
        ("Alibaba Cloud DirectMail", "aliyun"),
        ("163", "netease-163"),
        ("Twilio SendGrid", "sendgrid"),
    ],
)
def test_lookup_by_name_and_alias(query: str, expected: str) -> None:
    assert preset(query).name == expected


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("me@gmail.com", "gmail"),
        ("Me <Someone@GoogleMail.com>", "gmail"),
        ("x@outlook.com", "outlook"),
        ("x@hotmail.com", "outlook"),
        ("x@qq.com", "qq"),
        ("x@163.com", "netease-163"),
        ("x@126.com", "netease-126"),
        ("x@icloud.com", "icloud"),
        ("x@me.com", "icloud"),
        ("x@yahoo.com", "yahoo"),
        ("x@fastmail.com", "fastmail"),
        ("it@contoso.onmicrosoft.com", "microsoft365"),
        ("x@aliyun.com", "aliyun-mail"),
        ("gmail.com", "gmail"),
    ],
)
def test_lookup_by_email_domain(email: str, expected: str) -> None:
    assert preset(email).name == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mailgun-eu", ("mailgun", "eu")),
        ("Mailgun EU", ("mailgun", "eu")),
        ("sparkpost-eu", ("sparkpost", "eu")),
        ("zoho-eu", ("zoho", "eu")),
        ("zoho-pro-com.au", ("zoho-pro", "com.au")),
        ("ses-eu-west-1", ("ses", "eu-west-1")),
        ("ses-eu-south-2", ("ses", "eu-south-2")),
        ("aliyun-singapore", ("aliyun", "ap-southeast-1")),
        ("postmark-broadcasts", ("postmark", "broadcasts")),
        ("aliyun-qiye", ("aliyun-mail", "enterprise")),
        ("me@zohomail.eu", ("zoho", "eu")),
        ("gmail", ("gmail", None)),
    ],
)
def test_lookup_implies_region(query: str, expected: tuple[str, str | None]) -> None:
    found = find_preset(query)
    assert found is not None
    assert (found[0].name, found[1]) == expected


@pytest.mark.parametrize(
    "query", ["", "   ", "nope", "me@example.org", "example.org", "mailgun-mars"]
)
def test_lookup_misses_return_none(query: str) -> None:
    assert get_preset(query) is None


def test_aliases_are_unambiguous() -> None:
    """Every alias resolves to the preset that declares it (no alias shadows another)."""
    for name in list_presets():
        for alias in preset(name).aliases:
            assert preset(alias).name == name, alias


def test_unknown_preset_names_close_matches() -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.from_preset("gmial", user="me@gmail.com", password=SECRET)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "Did you mean gmail" in info.value.message
    assert "sendgrid" in info.value.message  # lists the known presets


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


# ------------------------------------------------------------------------------------------
# Guard rails
# ------------------------------------------------------------------------------------------


def test_aliyun_from_must_equal_user() -> None:
    with pytest.warns(PresetConfigWarning, match="from_must_equal_user"):
        config = SmtpConfig.from_preset(
            "aliyun", user="noreply@mail.example.com", password=SECRET, from_email="x@example.com"
        )
    assert codes(config)["from_must_equal_user"] == "error"
    with pytest.raises(ConnectorError) as info:
        check_preset_rules(config)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert (
        "x@example.com" in info.value.message and "noreply@mail.example.com" in info.value.message
    )
    same = quiet_from_preset("aliyun", user="noreply@mail.example.com", password=SECRET)
    assert "from_must_equal_user" not in codes(same)


def test_aliyun_rule_applies_to_hand_written_configs() -> None:
    config = raw_config(
        host="smtpdm-eu-central-1.aliyuncs.com",
        port=465,
        auth={"user": "noreply@mail.example.com", "pass": SECRET},
    )
    assert codes(config) == {"from_must_equal_user": "error"}


def test_gmail_warns_that_it_rewrites_from() -> None:
    with pytest.warns(PresetConfigWarning, match="rewrite"):
        config = SmtpConfig.from_preset(
            "gmail", user="me@gmail.com", password=SECRET, from_email="noreply@example.com"
        )
    assert codes(config) == {"from_rewritten": "warning"}
    assert [w.code for w in check_preset_rules(config)] == ["from_rewritten"]  # not fatal


def test_ses_region_is_required() -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.from_preset("ses", user="AKIAEXAMPLE", password=SECRET, from_email="a@b.com")
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "needs a region" in info.value.message
    assert "us-east-1" in info.value.message and "eu-west-1" in info.value.message
    with pytest.raises(ConnectorError, match="Unknown Amazon SES region 'mars-1'"):
        SmtpConfig.from_preset(
            "ses", user="AKIAEXAMPLE", password=SECRET, from_email="a@b.com", region="mars-1"
        )
    template = raw_config(
        host="email-smtp.{region}.amazonaws.com", auth={"user": "AKIA", "pass": SECRET}
    )
    assert codes(template)["region_required"] == "error"


def test_region_on_a_single_host_provider_is_refused() -> None:
    with pytest.raises(ConnectorError, match="single host"):
        SmtpConfig.from_preset("gmail", user="me@gmail.com", password=SECRET, region="eu")


def test_port_25_on_cloud_hosts_warns() -> None:
    with pytest.warns(PresetConfigWarning, match="port_25_blocked"):
        config = SmtpConfig.from_preset(
            "sendgrid", password=SECRET, from_email="a@example.com", port=25
        )
    assert codes(config) == {"port_25_blocked": "warning"}
    message = preset_warnings(config)[0].message
    assert "587" in message and "465" in message
    remote = raw_config(host="mail.example.net", port=25)
    assert codes(remote) == {"port_25_blocked": "warning"}
    local = raw_config(host="127.0.0.1", port=25)
    assert codes(local) == {}


def test_outlook_password_needs_oauth2() -> None:
    with pytest.warns(PresetConfigWarning, match="oauth2_required"):
        config = SmtpConfig.from_preset("outlook", user="me@outlook.com", password=SECRET)
    assert codes(config)["oauth2_required"] == "error"
    with pytest.raises(ConnectorError, match=r"SMTP\.Send"):
        check_preset_rules(config)


def test_unsupported_port_names_the_supported_ones() -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.from_preset("gmail", user="me@gmail.com", password=SECRET, port=2525)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "465 (implicit TLS, secure: true)" in info.value.message
    assert "587 (STARTTLS, secure: false)" in info.value.message
    config = raw_config(
        host="smtp.gmail.com", port=2525, auth={"user": "me@gmail.com", "pass": "x"}
    )
    assert codes(config) == {"unsupported_port": "error", "from_rewritten": "warning"}


def test_tls_mode_that_does_not_match_the_port() -> None:
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.from_preset("gmail", user="me@gmail.com", password=SECRET, port=587, secure=True)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "secure: false for port 587" in info.value.message
    assert "465" in info.value.message
    with pytest.raises(ConnectorError, match="no port with implicit TLS"):
        SmtpConfig.from_preset(
            "postmark", password=SECRET, from_email="a@example.com", tls_mode="implicit"
        )
    wrong = raw_config(
        host="smtp.sendgrid.net", port=465, secure=False, auth={"user": "apikey", "pass": "x"}
    )
    assert codes(wrong) == {"tls_mismatch": "error"}
    assert "secure: true for port 465" in preset_warnings(wrong)[0].message
    right = raw_config(host="smtp.sendgrid.net", port=465, auth={"user": "apikey", "pass": "x"})
    assert codes(right) == {}


def test_wrong_literal_username_and_missing_auth_in_files() -> None:
    wrong_user = raw_config(host="smtp.sendgrid.net", auth={"user": "me", "pass": SECRET})
    assert codes(wrong_user) == {"username_convention": "error"}
    no_auth = raw_config(host="smtp.gmail.com", port=465)
    assert codes(no_auth) == {"auth_required": "error"}


def test_host_override_switches_the_port_guard_off() -> None:
    config = quiet_from_preset(
        "gmail", user="me@gmail.com", password=SECRET, host="127.0.0.1", port=2525, secure=False
    )
    assert (config.host, config.port, config.secure) == ("127.0.0.1", 2525, False)
    assert not config.require_tls
    assert codes(config, preset=preset("gmail")) == {}


def test_deprecated_region_warns() -> None:
    with pytest.warns(PresetConfigWarning, match="deprecated_region"):
        SmtpConfig.from_preset(
            "aliyun", user="a@mail.example.com", password=SECRET, region="ap-southeast-2-legacy"
        )


def test_quirks_can_be_listed_as_warnings() -> None:
    config = quiet_from_preset("gmail", user="me@gmail.com", password=SECRET)
    quirks = codes(config, include_quirks=True)
    assert {"from_rewritten", "app_password_required", "daily_limit"} <= set(quirks)


def test_errors_and_warnings_never_contain_the_password() -> None:
    attempts = [
        lambda: SmtpConfig.from_preset("gmail", user="me@gmail.com", password=SECRET, port=2525),
        lambda: SmtpConfig.from_preset("ses", user="AKIA", password=SECRET, from_email="a@b.com"),
        lambda: SmtpConfig.from_preset("sendgrid", user="me", password=SECRET, from_email="a@b.c"),
        lambda: SmtpConfig.from_preset("gmial", user="me@gmail.com", password=SECRET),
    ]
    for attempt in attempts:
        with pytest.raises(ConnectorError) as info:
            attempt()
        assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    # Postmark's username *is* the token: findings about it must not echo it.
    with pytest.warns(PresetConfigWarning) as caught:
        config = SmtpConfig.from_preset(
            "postmark", password=SECRET, from_email="a@example.com", port=25
        )
    assert caught and all(SECRET not in str(w.message) for w in caught)
    hand_written = raw_config(host="smtp.postmarkapp.com", port=465, auth={"user": SECRET})
    with pytest.raises(ConnectorError) as info:
        check_preset_rules(hand_written)
    assert SECRET not in str(info.value)
    assert all(SECRET not in w.message for w in preset_warnings(config))


# ------------------------------------------------------------------------------------------
# A real local SMTP server: the generated configs are complete
# ------------------------------------------------------------------------------------------


@dataclass
class LocalServer:
    """An aiosmtpd server on 127.0.0.1 that accepts any login and records what it saw."""

    port: int
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    messages: list[Envelope] = field(default_factory=list)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((mechanism, data.login.decode(), data.password.decode()))
        return AuthResult(success=True, auth_data=data)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """XOAUTH2 (not built into aiosmtpd): record user and bearer token, accept."""
        fields = base64.b64decode(args[1]).decode().split("\x01")
        user = fields[0].removeprefix("user=")
        token = fields[1].removeprefix("auth=Bearer ")
        self.logins.append(("XOAUTH2", user, token))
        return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    server = LocalServer(port=_free_port())
    controller = Controller(
        server,
        hostname="127.0.0.1",
        port=server.port,
        authenticator=server.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def _account_for(found: Preset) -> tuple[dict[str, Any], str, str]:
    """from_preset kwargs for a preset, the username and the secret the server should see."""
    rule = found.username.rule
    domain = found.domains[0] if found.domains else "example.com"
    kwargs: dict[str, Any] = {"from_email": f"sender@{domain}"}
    expected_user = f"sender@{domain}"
    if rule == "literal":
        expected_user = found.username.value or ""
    elif rule == "account":
        kwargs["user"] = expected_user = "account-login-1"
    elif rule == "same_as_password":
        expected_user = SECRET
    if found.regions:
        kwargs["region"] = [r.id for r in found.regions if not r.deprecated][-1]
    if found.auth.password:
        kwargs["password"] = SECRET
    else:
        kwargs["access_token"] = SECRET
    return kwargs, expected_user, SECRET


@pytest.mark.parametrize("name", list_presets())
async def test_from_preset_sends_through_a_local_server(
    name: str, local_server: LocalServer
) -> None:
    pytest.importorskip("smtp_connector.connector")
    from smtp_connector import SmtpConnector

    kwargs, expected_user, secret = _account_for(preset(name))
    config = quiet_from_preset(
        name, host="127.0.0.1", port=local_server.port, secure=False, **kwargs
    )
    async with SmtpConnector(config) as connector:
        result = await connector.send(
            to="new.user@example.org", usage_type="SignIn", payload={"code": "482913"}
        )
    assert result.accepted == ["new.user@example.org"]
    assert result.server == f"127.0.0.1:{local_server.port}"
    assert [login[1:] for login in local_server.logins] == [(expected_user, secret)]
    (envelope,) = local_server.messages
    assert envelope.mail_from == kwargs["from_email"]
    assert envelope.rcpt_tos == ["new.user@example.org"]
    assert b"482913" in (envelope.original_content or b"")


def _init_args(port: int, output: Path) -> list[str]:
    return [
        "init",
        "--preset",
        "gmail",
        "--user",
        "me@gmail.com",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--tls",
        "plain",
        "--password-env",
        "PRESET_TEST_SMTP_PASSWORD",
        "-o",
        str(output),
        "--no-input",
    ]


def test_init_writes_a_config_that_verify_accepts(
    tmp_path: Path, local_server: LocalServer
) -> None:
    pytest.importorskip("smtp_connector.connector")
    output = tmp_path / "smtp.json"
    runner = CliRunner()
    created = runner.invoke(main, _init_args(local_server.port, output))
    assert created.exit_code == 0, created.output
    written = json.loads(output.read_text())
    assert written["auth"] == {"user": "me@gmail.com", "pass": "${PRESET_TEST_SMTP_PASSWORD}"}
    assert written["fromEmail"] == "me@gmail.com"
    assert "PRESET_TEST_SMTP_PASSWORD" in created.output

    env = {"PRESET_TEST_SMTP_PASSWORD": SECRET}
    checked = runner.invoke(main, ["verify", "--config", str(output)], env=env)
    assert checked.exit_code == 0, checked.output
    assert [login[1:] for login in local_server.logins] == [("me@gmail.com", SECRET)]
    assert local_server.messages == []  # verify sends nothing


async def test_init_config_passes_library_verify(
    tmp_path: Path, local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("smtp_connector.connector")
    from smtp_connector import SmtpConnector

    output = tmp_path / "smtp.json"
    created = CliRunner().invoke(main, _init_args(local_server.port, output))
    assert created.exit_code == 0, created.output
    monkeypatch.setenv("PRESET_TEST_SMTP_PASSWORD", SECRET)
    config = SmtpConfig.from_file(output)
    assert config.auth.password == SECRET
    async with SmtpConnector(config) as connector:
        await connector.verify()
    assert [login[1:] for login in local_server.logins] == [("me@gmail.com", SECRET)]


# ------------------------------------------------------------------------------------------
# CLI: presets and init
# ------------------------------------------------------------------------------------------


def test_presets_table() -> None:
    result = CliRunner().invoke(main, ["presets"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "HOST", "PORT", "TLS", "USERNAME"]
    sendgrid = next(line for line in lines if line.startswith("sendgrid "))
    assert sendgrid.split()[:4] == ["sendgrid", "smtp.sendgrid.net", "587", "STARTTLS"]
    assert "literal `apikey`" in sendgrid
    assert all(any(line.startswith(f"{n} ") for line in lines) for n in list_presets())


def test_presets_json() -> None:
    result = CliRunner().invoke(main, ["presets", "--json"])
    rows = json.loads(result.output)
    assert [row["name"] for row in rows] == list_presets()
    gmail = next(row for row in rows if row["name"] == "gmail")
    assert gmail == {
        "name": "gmail",
        "host": "smtp.gmail.com",
        "port": "465",
        "tls": "TLS",
        "username": "full email address",
    }


def test_presets_detail_shows_quirks() -> None:
    result = CliRunner().invoke(main, ["presets", "Google Mail"])
    assert result.exit_code == 0, result.output
    assert "Gmail (gmail)" in result.output
    assert "465 implicit TLS, secure: true (default)" in result.output
    assert "from_rewritten" in result.output and "app_password_required" in result.output
    assert "https://mail.google.com/" in result.output
    brevo = CliRunner().invoke(main, ["presets", "brevo"])
    assert "Unverified (secondary sources only): username, password" in brevo.output
    aliyun = CliRunner().invoke(main, ["presets", "aliyun"])
    assert "smtpdm-eu-central-1.aliyuncs.com" in aliyun.output


def test_presets_detail_json() -> None:
    result = CliRunner().invoke(main, ["presets", "mailgun-eu", "--json"])
    data = json.loads(result.output)
    assert (data["name"], data["implied_region"]) == ("mailgun", "eu")
    assert {p["port"] for p in data["ports"]} == {25, 465, 587, 2525}


def test_presets_unknown_name_exits_with_config_error() -> None:
    result = CliRunner().invoke(main, ["presets", "gmial"])
    assert result.exit_code == 2
    assert "Did you mean gmail" in result.output


def test_init_for_sendgrid_and_aliyun(tmp_path: Path) -> None:
    runner = CliRunner()
    sendgrid = tmp_path / "sendgrid.json"
    args = ["init", "--preset", "sendgrid", "--from", "no-reply@example.com", "--no-input"]
    result = runner.invoke(main, [*args, "-o", str(sendgrid)])
    assert result.exit_code == 0, result.output
    data = json.loads(sendgrid.read_text())
    assert data["auth"] == {"user": "apikey", "pass": "${SMTP_PASSWORD}"}
    assert (data["host"], data["port"], data["requireTLS"]) == ("smtp.sendgrid.net", 587, True)

    aliyun = tmp_path / "aliyun.json"
    args = ["init", "--preset", "aliyun", "--user", "noreply@mail.example.com", "--no-input"]
    result = runner.invoke(main, [*args, "--region", "singapore", "-o", str(aliyun)])
    assert result.exit_code == 0, result.output
    data = json.loads(aliyun.read_text())
    assert data["host"] == "smtpdm-ap-southeast-1.aliyuncs.com"
    assert data["fromEmail"] == data["auth"]["user"] == "noreply@mail.example.com"


def test_init_prompts_for_missing_values(tmp_path: Path) -> None:
    output = tmp_path / "zoho.json"
    answers = "me@zohomail.eu\n\n\n"  # address, From (default), region (default from domain)
    result = CliRunner().invoke(
        main, ["init", "--preset", "zoho", "-o", str(output)], input=answers
    )
    assert result.exit_code == 0, result.output
    data = json.loads(output.read_text())
    assert data["host"] == "smtp.zoho.eu"
    assert data["auth"]["user"] == data["fromEmail"] == "me@zohomail.eu"


def test_init_refuses_guard_rail_errors_and_overwrites(tmp_path: Path) -> None:
    runner = CliRunner()
    output = tmp_path / "aliyun.json"
    args = ["init", "--preset", "aliyun", "--user", "a@mail.example.com", "--no-input"]
    bad = runner.invoke(main, [*args, "--from", "b@example.com", "-o", str(output)])
    assert bad.exit_code == 2 and "exactly the SMTP username" in bad.output
    assert not output.exists()
    assert runner.invoke(main, [*args, "-o", str(output)]).exit_code == 0
    again = runner.invoke(main, [*args, "-o", str(output)])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(main, [*args, "-o", str(output), "--force"]).exit_code == 0


def test_init_without_needed_values_fails_without_prompting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["init", "--preset", "ses", "--no-input", "-o", str(tmp_path / "x.json")]
    )
    assert result.exit_code == 2
    assert "--from" in result.output


def test_init_outlook_writes_oauth2_references(tmp_path: Path) -> None:
    output = tmp_path / "outlook.json"
    args = ["init", "--preset", "outlook", "--user", "me@outlook.com", "--no-input"]
    result = CliRunner().invoke(main, [*args, "-o", str(output)])
    assert result.exit_code == 0, result.output
    auth = json.loads(output.read_text())["auth"]
    assert auth["type"] == "oauth2"
    assert auth["refreshToken"] == "${SMTP_REFRESH_TOKEN}"
    assert auth["clientId"] == "${SMTP_CLIENT_ID}"
    assert auth["accessUrl"].startswith("https://login.microsoftonline.com/")


def test_init_rejects_a_bad_env_name(tmp_path: Path) -> None:
    args = ["init", "--preset", "gmail", "--user", "me@gmail.com", "--no-input"]
    result = CliRunner().invoke(
        main, [*args, "--password-env", "NOT-VALID", "-o", str(tmp_path / "x.json")]
    )
    assert result.exit_code == 2
    assert "environment variable name" in result.output
