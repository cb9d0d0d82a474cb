"""The template provider hook (Logto's `getI18nEmailTemplate`): where it sits in the template
chain, how its answers are remembered and forgotten, and what it may answer. Runs on both
compose paths (tests/compose/conftest.py), so a cached shape can never outlive its text."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import smtp_connector
from smtp_connector import (
    ConnectorError,
    EmailTemplate,
    ErrorCode,
    SmtpConnector,
    TemplateProvider,
)
from smtp_connector.compose import provider as provider_module

CONFIG: dict[str, Any] = {
    "transport": "memory",
    "fromEmail": "Acme <no-reply@acme.example.com>",
    "templates": [
        {"usageType": "SignIn", "subject": "config sign-in {{code}}", "content": "c {{code}}"}
    ],
}


class Store:
    """A provider over an in-memory snapshot, as a database-backed one would keep it."""

    def __init__(self, templates: dict[tuple[str, str | None], Any], versioned: bool = True):
        self.templates = dict(templates)
        self.asked: list[tuple[str, str | None]] = []
        if versioned:
            self.version = 1

    def template(self, usage_type: str, locale: str | None) -> Any:
        self.asked.append((usage_type, locale))
        return self.templates.get((usage_type, locale)) or self.templates.get((usage_type, None))

    def change(self, key: tuple[str, str | None], value: Any) -> None:
        self.templates[key] = value
        if hasattr(self, "version"):
            self.version += 1


def details(subject: str, content: str = "body {{code}}", **extra: Any) -> dict[str, Any]:
    return {"subject": subject, "content": content, "contentType": "text/plain", **extra}


def connector(store: Any, **config: Any) -> SmtpConnector:
    return SmtpConnector(CONFIG | config, template_provider=store)


# -- the chain ---------------------------------------------------------------------------------


def test_the_protocol_is_public_and_a_store_satisfies_it() -> None:
    assert "TemplateProvider" in smtp_connector.__all__
    assert isinstance(Store({}), TemplateProvider)


@pytest.mark.parametrize(
    ("usage", "subject", "source"),
    [
        ("Register", "provider register 1", "provider"),  # provider(usage) first
        ("SignIn", "config sign-in 1", "config"),  # then the config
        ("ForgotPassword", None, "shipped"),  # then the shipped template of the usage type
        ("PasswordlessMagic", "provider generic 1", "provider"),  # then provider(Generic)
    ],
)
def test_each_level_of_the_chain(usage: str, subject: str | None, source: str) -> None:
    store = Store(
        {("Register", None): details("provider register {{code}}"),
         ("Generic", None): details("provider generic {{code}}")}
    )  # fmt: skip
    mailer = connector(store)
    assert mailer.template_source(usage) == source
    rendered = mailer.render(usage, {"code": "1"})
    if subject is not None:
        assert rendered.subject == subject
    else:
        assert "1" in rendered.subject and "provider" not in rendered.subject


def test_config_generic_comes_before_the_shipped_and_provider_generic() -> None:
    config_generic = {"usageType": "Generic", "subject": "config generic", "content": "g"}
    store = Store({("Generic", None): details("provider generic")})
    mailer = connector(store, templates=[*CONFIG["templates"], config_generic])
    assert mailer.render("ForgotPassword", {"code": "1"}).subject == "config generic"
    assert mailer.template_source("ForgotPassword") == "config"


def test_shipped_generic_when_nothing_else_and_not_found_without_shipped() -> None:
    store = Store({})
    mailer = connector(store)
    assert mailer.template_source("PasswordlessMagic") == "shipped"
    with pytest.raises(ConnectorError) as info:
        connector(store, useShippedTemplates=False).render("PasswordlessMagic", {"code": "1"})
    assert info.value.code is ErrorCode.TEMPLATE_NOT_FOUND
    assert "template provider" in info.value.message


def test_the_provider_is_asked_with_the_locale_as_given() -> None:
    store = Store({("SignIn", "pt-BR"): details("olá {{code}}")})
    mailer = connector(store)
    assert mailer.render("SignIn", {"code": "7"}, locale="pt-BR").subject == "olá 7"
    assert mailer.render("SignIn", {"code": "7", "locale": "de"}).subject == "config sign-in 7"
    assert store.asked == [("SignIn", "pt-BR"), ("SignIn", "de")]


def test_without_a_provider_nothing_changes() -> None:
    mailer = SmtpConnector(CONFIG)
    assert mailer.template_source("SignIn") == "config"
    assert mailer.template_source("Register", "es") == "shipped"
    assert mailer.render("SignIn", {"code": "5"}).subject == "config sign-in 5"


# -- remembering and forgetting ----------------------------------------------------------------


def test_answers_are_memoised_per_version() -> None:
    store = Store({("Register", None): details("first {{code}}")})
    mailer = connector(store)
    for _ in range(3):
        assert mailer.render("Register", {"code": "1"}).subject == "first 1"
    assert store.asked == [("Register", None)]
    store.change(("Register", None), details("second {{code}}"))
    assert mailer.render("Register", {"code": "2"}).subject == "second 2"
    assert store.asked == [("Register", None)] * 2


def test_a_template_edited_in_place_is_seen_after_a_version_bump() -> None:
    template = EmailTemplate(usage_type="Register", subject="before {{code}}", content="x")
    store = Store({("Register", None): template})
    mailer = connector(store)
    assert mailer.render("Register", {"code": "1"}).subject == "before 1"
    template.subject = "after {{code}}"  # not how to do it, but it must not serve stale text
    store.version += 1
    assert mailer.render("Register", {"code": "1"}).subject == "after 1"


def test_without_a_version_the_provider_is_asked_every_time() -> None:
    store = Store({("Register", None): details("one {{code}}")}, versioned=False)
    mailer = connector(store)
    mailer.render("Register", {"code": "1"})
    mailer.render("Register", {"code": "1"})
    store.templates[("Register", None)] = details("two {{code}}")
    assert mailer.render("Register", {"code": "3"}).subject == "two 3"
    assert len(store.asked) == 3


def test_unchanged_content_keeps_its_cached_shape(compose_path: str) -> None:
    """A provider answering a fresh mapping each time (no version) still hits the shape
    cache: templates are kept by content, so only a change composes anew."""
    store = Store({("Register", None): details("same {{code}}")}, versioned=False)
    mailer = connector(store)
    before = mailer.compose_cache_info()
    for code in ("1", "2", "3"):
        assert mailer.render("Register", {"code": code}).subject == f"same {code}"
    after = mailer.compose_cache_info()
    assert before is not None and after is not None
    if compose_path == "shape":
        assert after["misses"] - before["misses"] == 1
        assert after["hits"] - before["hits"] == 2


def test_what_is_remembered_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Distinct texts (or locales a caller makes up) cannot grow the caches without end."""
    monkeypatch.setattr(provider_module, "MAX_REMEMBERED", 8)
    store = Store({})
    mailer = connector(store)
    for index in range(40):
        store.change(("Register", None), details(f"text {index} {{{{code}}}}"))
        assert mailer.render("Register", {"code": "1"}).subject == f"text {index} 1"
    selector_provider = mailer._selector.provider
    assert selector_provider is not None and len(selector_provider._by_content) <= 8
    info = mailer.compose_cache_info()
    assert info is None or info["size"] <= 8 + 1


# -- what a provider may answer ----------------------------------------------------------------


def test_logto_details_without_content_type_are_html() -> None:
    """Logto's connector sends details without `contentType` as HTML."""
    store = Store({("Register", None): {"subject": "s", "content": "<p>Code <b>{{code}}</b></p>"}})
    rendered = connector(store).render("Register", {"code": "42"})
    assert rendered.html is not None and "<b>42</b>" in rendered.html
    assert rendered.text is not None and "42" in rendered.text  # the generated text part


@pytest.mark.parametrize(
    "answer",
    [{"content": "no subject"}, {"subject": "s", "content": "c", "contentType": "text/rtf"}, 42],
    ids=["no-subject", "bad-content-type", "not-a-template"],
)
def test_a_bad_answer_is_a_template_error(answer: Any) -> None:
    with pytest.raises(ConnectorError) as info:
        connector(Store({("Register", None): answer})).render("Register", {"code": "1"})
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert "Register" in info.value.message


def test_a_failing_provider_falls_back_to_the_config_and_is_asked_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As Logto's connector does with a `getI18nEmailTemplate` that throws (`trySafe`)."""

    class Broken(Store):
        def template(self, usage_type: str, locale: str | None) -> Any:
            super().template(usage_type, locale)
            raise RuntimeError("database is down")

    store = Broken({})
    mailer = connector(store)
    with caplog.at_level(logging.WARNING, logger="smtp_connector"):
        assert mailer.render("SignIn", {"code": "1"}).subject == "config sign-in 1"
        mailer.render("SignIn", {"code": "1"})
    assert store.asked == [("SignIn", None)] * 2
    assert "template provider failed" in caplog.text and "RuntimeError" in caplog.text


def test_something_that_is_not_a_provider_is_refused() -> None:
    with pytest.raises(TypeError, match="template_provider"):
        SmtpConnector(CONFIG, template_provider=object())  # type: ignore[arg-type]


def test_a_rebuilt_connector_asks_its_own_provider() -> None:
    """`compose_from` carries compiled work over between connectors that render alike; the
    template provider is part of that: a rebuilt connector with another provider asks it."""
    first = Store({("Register", None): details("first {{code}}")})
    second = Store({("Register", None): details("second {{code}}")})
    earlier = connector(first)
    assert earlier.render("Register", {"code": "1"}).subject == "first 1"
    same = SmtpConnector(CONFIG, template_provider=first, compose_from=earlier)
    other = SmtpConnector(CONFIG, template_provider=second, compose_from=earlier)
    plain = SmtpConnector(CONFIG, compose_from=earlier)
    assert same.render("Register", {"code": "2"}).subject == "first 2"
    assert other.render("Register", {"code": "3"}).subject == "second 3"
    assert plain.template_source("Register") == "shipped"
