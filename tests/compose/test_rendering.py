"""Rendering: placeholders, escaping, the sandbox, the locale fallback chain, shipped defaults."""

from __future__ import annotations

import re
from typing import Any

import pytest

from smtp_connector import (
    ConnectorError,
    EmailTemplate,
    ErrorCode,
    SmtpConfig,
    SmtpConnector,
    UsageType,
)
from smtp_connector.compose.selection import TemplateSelector
from smtp_connector.compose.shipped import shipped_locales

CODE = "482913"
BASE: dict[str, Any] = {"host": "smtp.example.com", "port": 587, "fromEmail": "noreply@example.com"}


def connector(templates: list[dict[str, Any]] | None = None, **extra: Any) -> SmtpConnector:
    return SmtpConnector(SmtpConfig.model_validate(BASE | {"templates": templates or []} | extra))


def one_template(content: str, content_type: str = "text/plain", **extra: Any) -> SmtpConnector:
    return connector(
        [
            {
                "usageType": "Generic",
                "contentType": content_type,
                "subject": extra.pop("subject", "Subject"),
                "content": content,
            }
        ],
        **extra,
    )


# -- placeholders -------------------------------------------------------------------------

PAYLOAD: dict[str, Any] = {
    "code": CODE,
    "user": {"name": "Ann Lee"},
    "application": {"name": "Acme Portal"},
}


@pytest.mark.parametrize(
    ("placeholder", "expected"),
    [
        ("{{code}}", CODE),
        ("{{ code }}", CODE),
        ("{{    code }}", CODE),
        ("<<code>>", CODE),
        ("<< code >>", CODE),
        ("{{user.name}}", "Ann Lee"),
        ("<<user.name>>", "Ann Lee"),
        ("<<application.name>>", "Acme Portal"),
        ("{{ application.name }}", "Acme Portal"),
        ("&lt;&lt;code&gt;&gt;", CODE),
        ("&lt;&lt; user.name &gt;&gt;", "Ann Lee"),
    ],
)
@pytest.mark.parametrize("content_type", ["text/plain", "text/html"])
def test_placeholder_forms(placeholder: str, expected: str, content_type: str) -> None:
    rendered = one_template(
        f"Before {placeholder} after", content_type, subject=f"Subject {placeholder}"
    ).render(UsageType.GENERIC, PAYLOAD)
    assert rendered.subject == f"Subject {expected}"
    body = rendered.text if content_type == "text/plain" else rendered.html
    assert body == f"Before {expected} after"
    assert "<<" not in (rendered.text or "") and "&lt;&lt;" not in (rendered.html or "")


def test_numeric_code_renders_as_given() -> None:
    rendered = one_template("Code {{code}}").render("Generic", {"code": 12345})
    assert rendered.text == "Code 12345"


def test_shorthand_mixed_with_jinja_in_one_template() -> None:
    rendered = one_template("<<code>> / {{ code }} / <<user.name>>").render("Generic", PAYLOAD)
    assert rendered.text == f"{CODE} / {CODE} / Ann Lee"


def test_missing_value_renders_empty_not_error() -> None:
    rendered = one_template("Hi {{ user.name }}, code {{ code }}").render("Generic", {"code": "1"})
    assert rendered.text == "Hi , code 1"


def test_expires_in_minutes_alias() -> None:
    rendered = one_template("{{ expiresInMinutes }} min").render(
        "Generic", {"code": "1", "expires_in_minutes": 15}
    )
    assert rendered.text == "15 min"


def test_usage_type_as_string_or_enum() -> None:
    conn = connector(
        [
            {"usageType": "SignIn", "subject": "s", "content": "sign-in {{code}}"},
            {"usageType": "Generic", "subject": "g", "content": "generic {{code}}"},
        ]
    )
    assert conn.render("SignIn", {"code": "1"}).text == "sign-in 1"
    assert conn.render(UsageType.SIGN_IN, {"code": "1"}).text == "sign-in 1"
    assert conn.render("MyCustomType", {"code": "1"}).text == "generic 1"


# -- escaping ------------------------------------------------------------------------------

XSS = "<script>alert(1)</script>"


def test_payload_html_escaped_in_html_raw_in_text() -> None:
    conn = connector(
        [
            {
                "usageType": "Generic",
                "subject": "Hi {{ user.name }}",
                "textContent": "Hi {{ user.name }}, code {{ code }}",
                "htmlContent": "<p>Hi {{ user.name }}, code {{ code }}</p>",
            }
        ]
    )
    rendered = conn.render("Generic", {"code": CODE, "user": {"name": XSS}})
    assert rendered.html == f"<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;, code {CODE}</p>"
    assert "<script>" not in (rendered.html or "")
    assert rendered.text == f"Hi {XSS}, code {CODE}"
    assert rendered.subject == f"Hi {XSS}"


@pytest.mark.parametrize("placeholder", ["<<user.name>>", "&lt;&lt;user.name&gt;&gt;"])
def test_shorthand_is_escaped_in_html_too(placeholder: str) -> None:
    rendered = one_template(f"<p>{placeholder}</p>", "text/html").render(
        "Generic", {"code": "1", "user": {"name": '"><img src=x onerror=alert(1)>'}}
    )
    assert rendered.html == "<p>&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</p>"


def test_attribute_values_escaped() -> None:
    rendered = one_template('<a href="{{ link }}">go</a>', "text/html").render(
        "Generic", {"code": "1", "link": 'https://example.org/?a=1&b="2"'}
    )
    assert rendered.html == '<a href="https://example.org/?a=1&amp;b=&#34;2&#34;">go</a>'


def test_template_markup_itself_is_not_escaped() -> None:
    rendered = one_template("<p><b>{{ code }}</b></p>", "text/html").render(
        "Generic", {"code": "1"}
    )
    assert rendered.html == "<p><b>1</b></p>"


def test_shipped_default_html_escapes_application_name() -> None:
    rendered = connector().render(
        "SignIn", {"code": CODE, "application": {"name": "<b>Evil</b>"}}, locale="en"
    )
    assert "&lt;b&gt;Evil&lt;/b&gt;" in (rendered.html or "")
    assert "<b>Evil</b>" not in (rendered.html or "")
    assert "<b>Evil</b>" in (rendered.text or "")


def test_value_with_jinja_syntax_is_not_evaluated() -> None:
    rendered = one_template("Hi {{ user.name }}").render(
        "Generic", {"code": "1", "user": {"name": "{{ 7 * 7 }} <<code>>"}}
    )
    assert rendered.text == "Hi {{ 7 * 7 }} <<code>>"


# -- sandbox ---------------------------------------------------------------------------------


def render_error(source: str, part: str = "content", **payload: Any) -> ConnectorError:
    template: dict[str, Any] = {
        "usageType": "SignIn",
        "locale": "en",
        "subject": "Subject",
        "content": "Body",
    }
    template[part] = source
    with pytest.raises(ConnectorError) as info:
        connector([template]).render("SignIn", {"code": CODE, **payload}, locale="en")
    return info.value


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ code.__class__.__name__ }}",
        "{{ user.update({'name': 'x'}) }}",
        "{% for c in ''.__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_sandbox_escape_is_template_error(source: str) -> None:
    error = render_error(source, user={"name": "a"})
    assert error.code is ErrorCode.TEMPLATE_ERROR
    assert "SignIn/en" in error.message


@pytest.mark.parametrize(
    "source",
    [
        "{{ cycler.__init__.__globals__ }}",
        "{{ code.__class__.__mro__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ namespace.__init__.__globals__['__builtins__'] }}",
        "{{ lipsum.__globals__ }}",
    ],
)
def test_sandbox_never_exposes_internals(source: str) -> None:
    """Whatever the outcome (error or empty), nothing of Python's internals reaches the mail."""
    try:
        rendered = connector(
            [{"usageType": "Generic", "subject": "s", "content": f"[{source}]"}]
        ).render("Generic", {"code": "1"})
    except ConnectorError as error:
        assert error.code is ErrorCode.TEMPLATE_ERROR
        return
    text = rendered.text or ""
    assert text == "[]", text


@pytest.mark.parametrize("part", ["content", "subject"])
def test_sandbox_error_in_subject_or_body_names_template(part: str) -> None:
    error = render_error("{{ ''.__class__.__mro__[1].__subclasses__() }}", part)
    assert error.code is ErrorCode.TEMPLATE_ERROR
    assert "'SignIn/en'" in error.message
    assert ("subject" if part == "subject" else "text") in error.message


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("Your code:\n{% if code %}\n{{ code }}", 3),
        ("Hello\n{{ code }}\n{{ user.name ]] }}\nBye\n", 3),
        ("Line one\nLine two\n{{ code | }}\n", 3),
        ("{{ code", 1),
        ("a\nb\n{% endfor %}", 3),
    ],
)
def test_syntax_error_names_template_and_line(source: str, line: int) -> None:
    error = render_error(source)
    assert error.code is ErrorCode.TEMPLATE_ERROR
    assert "SignIn/en" in error.message
    assert f"line {line}" in error.message


def test_syntax_error_in_html_names_part() -> None:
    template = {
        "usageType": "Register",
        "subject": "s",
        "textContent": "ok {{ code }}",
        "htmlContent": "<p>\n{{ code }\n</p>",
    }
    with pytest.raises(ConnectorError) as info:
        connector([template]).render("Register", {"code": "1"})
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert "'Register'" in info.value.message
    assert "html" in info.value.message
    assert "line 2" in info.value.message


def test_unknown_filter_is_template_error() -> None:
    error = render_error("{{ code | no_such_filter }}")
    assert error.code is ErrorCode.TEMPLATE_ERROR
    assert "no_such_filter" in error.message


def test_payload_must_be_mapping() -> None:
    with pytest.raises(ConnectorError) as info:
        one_template("{{ code }}").render("Generic", "123456")  # type: ignore[arg-type]
    assert info.value.code is ErrorCode.TEMPLATE_ERROR


# -- locale fallback chain ---------------------------------------------------------------------


def tpl(usage: str, locale: str | None, tag: str) -> dict[str, Any]:
    data: dict[str, Any] = {"usageType": usage, "subject": tag, "content": f"{tag} {{{{code}}}}"}
    if locale:
        data["locale"] = locale
    return data


FULL_CHAIN = [
    tpl("SignIn", "es-MX", "signin-es-MX"),
    tpl("SignIn", "es", "signin-es"),
    tpl("SignIn", None, "signin-default"),
    tpl("Generic", "fr-CA", "generic-fr-CA"),
    tpl("Generic", "fr", "generic-fr"),
    tpl("Generic", None, "generic-default"),
]


@pytest.mark.parametrize(
    ("templates", "usage", "locale", "expected"),
    [
        # 1. exact (usageType, locale)
        (FULL_CHAIN, "SignIn", "es-MX", "signin-es-MX"),
        (FULL_CHAIN, "SignIn", "es_MX", "signin-es-MX"),  # underscore and case normalised
        (FULL_CHAIN, "SignIn", "ES-mx", "signin-es-MX"),
        # 2. (usageType, language without region)
        (FULL_CHAIN, "SignIn", "es-AR", "signin-es"),
        (FULL_CHAIN, "SignIn", "es", "signin-es"),
        # 3. (usageType, default locale)
        (FULL_CHAIN, "SignIn", "de-DE", "signin-default"),
        (FULL_CHAIN, "SignIn", None, "signin-default"),
        # usage type wins over locale: SignIn/default beats Generic/fr
        (FULL_CHAIN, "SignIn", "fr-CA", "signin-default"),
        # 4-6. the same three for Generic
        (FULL_CHAIN, "Register", "fr-CA", "generic-fr-CA"),
        (FULL_CHAIN, "Register", "fr-BE", "generic-fr"),
        (FULL_CHAIN, "Register", "de", "generic-default"),
        (FULL_CHAIN, "Register", None, "generic-default"),
        (FULL_CHAIN, "MyCustomUsage", "fr", "generic-fr"),
        # a region-only template is not used for another region or the bare language
        ([tpl("SignIn", "pt-BR", "pt-BR"), tpl("Generic", "en", "g")], "SignIn", "pt-PT", "g"),
        ([tpl("SignIn", "pt-BR", "pt-BR"), tpl("Generic", "en", "g")], "SignIn", "pt", "g"),
    ],
)
def test_locale_fallback_chain(
    templates: list[dict[str, Any]], usage: str, locale: str | None, expected: str
) -> None:
    rendered = connector(templates).render(usage, {"code": CODE}, locale=locale)
    assert rendered.subject == expected
    assert rendered.text == f"{expected} {CODE}"


def test_default_locale_setting_is_used() -> None:
    templates = [tpl("SignIn", "de", "signin-de"), tpl("SignIn", "en", "signin-en")]
    conn = connector(templates, defaultLocale="de")
    assert conn.render("SignIn", {"code": "1"}, locale="ja").subject == "signin-de"
    assert conn.render("SignIn", {"code": "1"}).subject == "signin-de"
    assert conn.render("SignIn", {"code": "1"}, locale="en-GB").subject == "signin-en"


def test_locale_taken_from_payload_when_not_given() -> None:
    conn = connector(FULL_CHAIN)
    rendered = conn.render("SignIn", {"code": "1", "locale": "es-MX"})
    assert rendered.subject == "signin-es-MX"


def test_first_duplicate_template_wins() -> None:
    conn = connector([tpl("SignIn", "en", "first"), tpl("SignIn", "en", "second")])
    assert conn.render("SignIn", {"code": "1"}, locale="en").subject == "first"


def test_configured_generic_beats_shipped_usage_default() -> None:
    conn = connector([tpl("Generic", None, "generic-default")])
    rendered = conn.render(UsageType.BIND_MFA, {"code": CODE}, locale="ja")
    assert rendered.subject == "generic-default"


def test_shipped_defaults_after_configured_chain() -> None:
    conn = connector([tpl("SignIn", "de", "signin-de")])
    rendered = conn.render(UsageType.REGISTER, {"code": CODE}, locale="ja")
    assert rendered.locale == "ja"
    assert rendered.subject != "signin-de"
    assert CODE in rendered.subject
    assert rendered.html is not None and CODE in rendered.html


@pytest.mark.parametrize(
    ("locale", "shipped"),
    [
        ("pt-BR", "pt"),
        ("zh", "zh-CN"),
        ("zh-TW", "zh-TW"),
        ("zh_tw", "zh-TW"),
        ("es-419", "es"),
        ("xx-YY", "en"),
        (None, "en"),
    ],
)
def test_shipped_locale_resolution(locale: str | None, shipped: str) -> None:
    rendered = connector().render(UsageType.SIGN_IN, {"code": CODE}, locale=locale)
    assert rendered.locale == shipped
    expected = connector().render(UsageType.SIGN_IN, {"code": CODE}, locale=shipped)
    assert rendered.subject == expected.subject


def test_shipped_default_locale_setting() -> None:
    conn = connector(defaultLocale="fr")
    assert conn.render("SignIn", {"code": CODE}, locale="xx").locale == "fr"
    assert conn.render("SignIn", {"code": CODE}).locale == "fr"


def test_shipped_custom_usage_type_uses_generic() -> None:
    rendered = connector().render("PasswordlessMagic", {"code": CODE}, locale="de")
    generic = connector().render(UsageType.GENERIC, {"code": CODE}, locale="de")
    assert rendered.subject == generic.subject
    assert rendered.locale == "de"


def et(usage: str, locale: str | None, tag: str) -> EmailTemplate:
    return EmailTemplate.model_validate(tpl(usage, locale, tag))


def test_selector_template_not_found_without_shipped() -> None:
    selector = TemplateSelector([et("SignIn", "de", "signin-de")], "en", use_shipped=False)
    assert selector.select("SignIn", "de-AT").subject == "signin-de"
    with pytest.raises(ConnectorError) as info:
        selector.select("Register", "de")
    assert info.value.code is ErrorCode.TEMPLATE_NOT_FOUND
    assert "Register" in info.value.message
    with pytest.raises(ConnectorError) as info:
        TemplateSelector([], "en", use_shipped=False).select(UsageType.GENERIC, None)
    assert info.value.code is ErrorCode.TEMPLATE_NOT_FOUND


def test_selector_generic_before_not_found() -> None:
    selector = TemplateSelector([et("Generic", "fr", "generic-fr")], "fr", use_shipped=False)
    assert selector.select("Register", "fr-CA").subject == "generic-fr"
    assert selector.select("Register", None).subject == "generic-fr"
    with pytest.raises(ConnectorError) as info:
        TemplateSelector([et("Generic", "fr", "g")], "en", use_shipped=False).select(
            "Register", "de"
        )
    assert info.value.code is ErrorCode.TEMPLATE_NOT_FOUND


def test_selector_with_shipped_never_reaches_not_found() -> None:
    """With shipped defaults on, even an unknown usage type in an unknown locale finds the
    shipped Generic template, so TEMPLATE_NOT_FOUND is only reachable with use_shipped=False."""
    selected = TemplateSelector([], "xx", use_shipped=True).select("Unknown", "yy")
    assert (selected.usage_type, selected.locale) == ("Generic", "en")


# -- shipped defaults ------------------------------------------------------------------------

REQUIRED_LOCALES = ["en", "es", "zh-CN", "fr", "de", "ja", "pt"]
# Hidden text (a preheader coloured like the background, `display:none`) is what spam filters
# score in a transactional mail (SpamAssassin HTML_FONT_LOW_CONTRAST, STY_INVIS_*).
HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0\b", re.I)
REMOTE = re.compile(
    r"(?:\bsrc\s*=|<link\b|<img\b|<script\b|@import|url\s*\(|https?://)", re.IGNORECASE
)


def test_required_locales_are_shipped() -> None:
    assert set(REQUIRED_LOCALES) <= set(shipped_locales())


@pytest.mark.parametrize("locale", REQUIRED_LOCALES)
@pytest.mark.parametrize("usage", list(UsageType), ids=[u.value for u in UsageType])
def test_shipped_default_renders(usage: UsageType, locale: str) -> None:
    rendered = connector().render(usage, {"code": CODE}, locale=locale)
    assert rendered.locale == locale
    assert rendered.subject.strip()
    assert "\n" not in rendered.subject
    assert rendered.text is not None and CODE in rendered.text
    assert rendered.html is not None and CODE in rendered.html
    assert "[[" not in rendered.text + rendered.html + rendered.subject  # all strings filled
    assert "{{" not in rendered.text + rendered.html + rendered.subject
    assert not HIDDEN.search(rendered.html), HIDDEN.search(rendered.html)
    assert not REMOTE.search(rendered.html), REMOTE.search(rendered.html)
    if locale != "en":
        english = connector().render(usage, {"code": CODE}, locale="en")
        assert rendered.subject != english.subject  # actually translated
    if locale in ("zh-CN", "ja"):
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", rendered.subject + rendered.text)


@pytest.mark.parametrize("usage", list(UsageType), ids=[u.value for u in UsageType])
def test_shipped_default_with_link_and_names(usage: UsageType) -> None:
    link = "https://example.org/verify?token=abc123&next=%2Fhome"
    rendered = connector().render(
        usage,
        {
            "code": CODE,
            "link": link,
            "application": {"name": "Acme Portal"},
            "organization": {"name": "Acme Org"},
        },
        locale="en",
    )
    assert rendered.text is not None and link in rendered.text
    assert rendered.html is not None
    assert 'href="https://example.org/verify?token=abc123&amp;next=%2Fhome"' in rendered.html
    assert "Acme Portal" in rendered.html or "Acme Org" in rendered.html


def test_config_with_no_templates_renders() -> None:
    conn = SmtpConnector(SmtpConfig.model_validate(BASE))
    assert conn.config.templates == []
    rendered = conn.render(UsageType.REGISTER, {"code": CODE})
    assert CODE in rendered.subject
    assert rendered.text is not None and CODE in rendered.text
    assert rendered.html is not None and CODE in rendered.html
    # Without an application in the payload, the sender's domain names it.
    assert "example.com" in rendered.subject
