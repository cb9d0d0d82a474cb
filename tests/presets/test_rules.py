"""Guard rails: provider rules checked against configs built from presets and written by hand."""

from __future__ import annotations

import pytest
from preset_helpers import SECRET, codes, preset, quiet_from_preset, raw_config

from smtp_connector.config import SmtpConfig
from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.presets import (
    PresetConfigWarning,
    check_preset_rules,
    preset_warnings,
)

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
    assert config.require_tls  # the port guard is off, TLS is not: no silent plain text
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
