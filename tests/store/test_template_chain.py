"""Which template a send uses (store/template_chain.py), step by step, on the library's own
connector with the app's templates as its provider: no database, nothing mocked — the same
`resolve` and `render` the service calls. The config level (3) is only reachable here: the
service's definitions carry no templates of their own."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from smtp_connector import SmtpConnector, TemplateWarning
from smtp_connector.compose.provider import template_from_details
from smtp_connector.store.template_chain import AppTemplates, Snapshot, find_app_template, resolve


def snapshot(
    *stored: tuple[str, str, str], version: int = 1, default: str | None = "de"
) -> Snapshot:
    """(usage type, tag, subject) rows as a snapshot."""
    templates = {
        (usage, tag.lower()): template_from_details(
            {"subject": subject, "content": f"{subject} {{{{code}}}}"}, usage, tag
        )
        for usage, tag, subject in stored
    }
    return Snapshot(version, default, templates)


def connector(provider: AppTemplates, **config: Any) -> SmtpConnector:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TemplateWarning)
        return SmtpConnector(
            {"host": "localhost", "fromEmail": "otp@shop.example.com", "defaultLocale": "de"}
            | config,
            template_provider=provider,
        )


STORED = snapshot(
    ("SignIn", "fr", "app-fr"),
    ("SignIn", "de", "app-de"),
    ("Register", "en", "app-en"),
    ("Generic", "de", "app-generic-de"),
)


@pytest.mark.parametrize(
    ("usage", "locale", "level", "subject"),
    [
        ("SignIn", "fr", "app", "app-fr"),  # 1. exact
        ("SignIn", "FR-ca", "app", "app-fr"),  # 1. the tag's language, case-insensitive
        ("Register", "en-US", "app", "app-en"),  # 1. en-US → en
        ("SignIn", "es", "defaultLocale", "app-de"),  # 2. the app's default language
        ("SignIn", None, "defaultLocale", "app-de"),  # 2. no locale asked
        ("ForgotPassword", "es", "shipped", None),  # 4. shipped in the requested locale
        ("WelcomeBack", "es", "defaultLocale", "app-generic-de"),  # Generic fills in
    ],
)
def test_each_step_of_the_chain(
    usage: str, locale: str | None, level: str, subject: str | None
) -> None:
    provider = AppTemplates("shop", STORED)
    chosen = resolve(connector(provider), provider, usage, locale)
    assert chosen.level == level
    rendered = connector(provider).render(usage, {"code": "123456"}, locale)
    if subject is not None:
        assert rendered.subject == subject and "123456" in (rendered.html or "")
    if level == "shipped":
        assert chosen.locale == locale and chosen.usage_type == usage


def test_config_templates_come_after_the_apps_and_before_the_shipped() -> None:
    provider = AppTemplates("shop", STORED)
    configured = connector(provider, templates=[
        {"usageType": "SignIn", "locale": "es", "subject": "config-es {{code}}",
         "content": "x {{code}}"},
        {"usageType": "ForgotPassword", "subject": "config {{code}}", "content": "x {{code}}"},
    ])  # fmt: skip
    assert resolve(configured, provider, "SignIn", "fr").level == "app"  # 1 beats 3
    assert resolve(configured, provider, "ForgotPassword", "es").level == "config"  # 3 beats 4
    assert configured.render("ForgotPassword", {"code": "1"}, "es").subject == "config 1"


def test_shipped_english_last_and_generic_for_a_custom_type() -> None:
    """An app with no templates and no default language: shipped (requested), then English;
    a custom usage type with nothing anywhere gets the shipped Generic text."""
    provider = AppTemplates("bare", snapshot(default=None))
    bare = connector(provider, defaultLocale="en")
    chosen = resolve(bare, provider, "ForgotPassword", "xx")
    assert (chosen.level, chosen.locale) == ("shipped", "en")
    generic = resolve(bare, provider, "WelcomeBack", "fr")
    assert (generic.level, generic.usage_type) == ("shipped", "Generic")


def test_a_new_snapshot_version_is_seen_by_the_same_connector() -> None:
    """The connector keeps its provider; a save only swaps the snapshot (and its version)."""
    provider = AppTemplates("shop", STORED)
    same = connector(provider)
    assert same.render("SignIn", {"code": "1"}, "fr").subject == "app-fr"
    provider.replace(snapshot(("SignIn", "fr", "edited"), version=2))
    assert same.render("SignIn", {"code": "1"}, "fr").subject == "edited"
    provider.replace(snapshot(("SignIn", "fr", "older read"), version=1))  # a late refresh
    assert same.render("SignIn", {"code": "1"}, "fr").subject == "edited"


def test_no_app_template_is_found_for_another_usage_type_or_language() -> None:
    assert find_app_template(STORED, "SignIn", "it") is not None  # the default language
    assert find_app_template(snapshot(("SignIn", "fr", "x"), default="de"), "SignIn", "it") is None
    assert find_app_template(STORED, "BindMfa", "fr") is None
