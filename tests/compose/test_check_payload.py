"""`SmtpConnector.check_payload`: what a chosen template needs from a payload, found from the
template itself (compose/requirements.py), without sending. Each case is a template a person
would write and the payload an auth system would send; the verdict is compared with what the
real render would put in the mail."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector
from smtp_connector.errors import Cause


def connector(*templates: dict[str, Any], **config: Any) -> SmtpConnector:
    base = {"host": "mail.example.com", "port": 587, "fromEmail": "noreply@example.com"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SmtpConnector(base | {"templates": list(templates)} | config)


def template(subject: str, content: str = "", usage: str = "SignIn", **extra: Any) -> dict:
    body = {"usageType": usage, "contentType": "text/plain", "subject": subject}
    return body | {"content": content} | extra


def missing(c: SmtpConnector, usage: str, payload: dict[str, Any], **kw: Any) -> list[str]:
    """The names `check_payload` says are missing ([] when it accepts)."""
    try:
        c.check_payload(usage, payload, **kw)
    except ConnectorError as error:
        assert error.code is ErrorCode.TEMPLATE_ERROR and error.cause is Cause.MISSING_VALUE
        return list(error.details["missing"])
    return []


@pytest.mark.parametrize(
    ("subject", "content", "payload", "expected"),
    [
        ("{{ code }} is your code", "Thanks.", {}, ["code"]),
        ("Your code", "Code: <<code>>", {}, ["code"]),  # the shorthand counts
        ("Your code", "Code: {{ code | default('------') }}", {}, []),  # an explicit default
        ("Your code", "{% if code is defined %}{{ code }}{% endif %}", {}, []),
        ("Your code", "{{ code or 'ask support' }}", {}, []),
        # the usage type's own value, guarded only by truth, is still needed (the shipped
        # layout guards both code and link so that one layout serves every usage type)
        ("Your code", "{% if code %}{{ code }}{% endif %}", {}, ["code"]),
        ("Hi", "Hello {{ user.name }}, code {{ code }}", {"code": "1"}, ["user"]),
        ("Hi", "{% if user %}Hello {{ user.name }}{% endif %} {{ code }}", {"code": "1"}, []),
        ("Hi", "{{ greeting }} {{ code }}", {"code": "1", "greeting": None}, ["greeting"]),
        ("Hi", "{{ code }}", {"code": ""}, ["code"]),  # blank: the mail would show nothing
        ("Hi", "{{ code }} {{ greeting }}", {"code": "1", "greeting": ""}, []),  # given
    ],
)
def test_what_the_template_shows_must_be_given(
    subject: str, content: str, payload: dict[str, Any], expected: list[str]
) -> None:
    c = connector(template(subject, content))
    assert missing(c, "SignIn", payload) == expected
    if not expected:  # accepted: the real render has no blank where a value was shown
        c.render("SignIn", payload)


def test_a_branch_on_a_value_is_judged_per_value() -> None:
    """The verdict is cached per payload shape, and the shape includes compared values."""
    c = connector(template("Code {{ code }}", "{% if locale == 'de' %}Hallo {{ name }}{% endif %}"))
    assert missing(c, "SignIn", {"code": "1"}, locale="en") == []
    assert missing(c, "SignIn", {"code": "1"}, locale="de") == ["name"]
    assert missing(c, "SignIn", {"code": "1", "name": "Ana"}, locale="de") == []
    assert missing(c, "SignIn", {"code": "2"}, locale="de") == ["name"]  # from the cache


def test_the_shipped_templates_need_their_code_or_link() -> None:
    c = connector()
    for usage in ("Register", "SignIn", "ForgotPassword", "Generic", "BindMfa"):
        assert missing(c, usage, {}) == ["code"]
        assert missing(c, usage, {"code": "123456"}) == []
    assert missing(c, "OrganizationInvitation", {}) == ["link"]
    assert missing(c, "OrganizationInvitation", {"link": "https://shop.example.com/j"}) == []


def test_the_error_names_the_key_that_was_meant() -> None:
    c = connector()
    with pytest.raises(ConnectorError) as info:
        c.check_payload("SignIn", {"Code": "123456"})
    assert "`payload.code` (the payload has `Code`: names are case-sensitive)" in str(info.value)
    with pytest.raises(ConnectorError) as info:
        c.check_payload("SignIn", {"verificationCode": "123456"})
    assert "the payload has `verificationCode`; the template reads `code`" in str(info.value)


def test_usage_types_and_locales() -> None:
    c = connector(
        template("{{ code }} for the magic link", "Code: {{ code }}", usage="PasswordlessMagic")
    )
    assert c.check_payload("PasswordlessMagic", {"code": "1"}, allow_fallback=False) == []
    with pytest.raises(ConnectorError) as info:
        c.check_payload("Regsiter", {"code": "1"}, allow_fallback=False)
    assert info.value.code is ErrorCode.TEMPLATE_NOT_FOUND
    assert info.value.cause is Cause.UNKNOWN_USAGE_TYPE
    assert info.value.details == {"suggestion": "Register"}
    assert c.check_payload("Regsiter", {"code": "1"}) == [  # the library's default: a warning
        "No template for usage type 'Regsiter' (did you mean 'Register'?): the Generic "
        "template was used."
    ]
    assert c.check_payload("SignIn", {"code": "1"}, "pt-BR") == []  # the language is shipped
    assert c.check_payload("SignIn", {"code": "1"}, "tlh") == [
        "No SignIn template in locale 'tlh': the 'en' one was used."
    ]


def test_recipients_and_payloads_are_refused_as_send_refuses_them() -> None:
    c = connector()
    for to in ("not-an-email", "a@b", "a@example.org\r\nBcc: b@example.org", ""):
        with pytest.raises(ConnectorError) as info:
            c.check_payload("SignIn", {"code": "1"}, to=to)
        assert info.value.code is ErrorCode.INVALID_RECIPIENT
        assert info.value.cause in (Cause.BAD_ADDRESS, Cause.SPECIAL_USE_DOMAIN, None)
    with pytest.raises(ConnectorError) as info:
        c.check_payload("OrganizationInvitation", {"link": "javascript:alert(1)"})
    assert info.value.cause is Cause.UNSAFE_LINK
    with pytest.raises(ConnectorError) as info:
        c.check_payload("SignIn", {"code": "1", "note": "x" * 70_000})
    assert info.value.cause is Cause.PAYLOAD_TOO_LARGE


def test_load_time_findings_about_the_chosen_template_are_returned() -> None:
    c = connector(template("Welcome", "Hello there", usage="SignIn"))
    assert c.check_payload("SignIn", {}) == [text for text in c.template_warnings]
    assert "no code placeholder" in c.check_payload("SignIn", {})[0]


def test_a_template_that_does_not_compile_is_left_to_the_render() -> None:
    from smtp_connector.compose.limits import RenderLimits
    from smtp_connector.compose.requirements import PayloadCheck
    from smtp_connector.config import EmailTemplate

    broken = EmailTemplate.model_validate(template("{{ code ", "x"))
    assert PayloadCheck(RenderLimits()).missing(broken, {}) == []
