"""The preset data files (schema, coverage, consistency) and lookup by name, alias, region or
email domain."""

from __future__ import annotations

import pytest
from preset_helpers import REQUIRED, SECRET, preset

from smtp_connector import resources
from smtp_connector.config import SmtpConfig
from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.ports import IMPLICIT_TLS_PORTS
from smtp_connector.presets import (
    catalog,
    find_preset,
    get_preset,
    list_presets,
    parse_preset,
    preset_files,
)
from smtp_connector.presets.model import TLS_MODES

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
