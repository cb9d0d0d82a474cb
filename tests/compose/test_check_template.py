"""`SmtpConnector.check_template`: what an admin's "save template" gets checked against — the
checks configured templates get when the connector is built, for one template. Template
bombs (each of the sandbox's limits) are run in a memory-capped child process in
tests/security/test_template_bombs.py."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from smtp_connector import ConnectorError, EmailTemplate, ErrorCode, SmtpConnector, TemplateWarning

MAILER = SmtpConnector({"transport": "memory", "fromEmail": "no-reply@acme.example.com"})


def check(template: Any, usage: str | None = "SignIn", **config: Any) -> list[str]:
    mailer = SmtpConnector({"transport": "memory", "fromEmail": "a@acme.com", **config})
    return mailer.check_template(template, usage)


def refused(template: Any, usage: str | None = "SignIn", **config: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        check(template, usage, **config)
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    return info.value


def test_a_good_template_has_no_warnings_and_issues_none() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", TemplateWarning)
        assert check({"subject": "Code", "content": "<p>{{code}}</p>"}) == []


def test_a_syntax_error_names_the_part_and_the_line() -> None:
    content = "<p>Hello</p>\n<p>Your code</p>\n<p>{{ code }</p>"
    error = refused({"subject": "Code", "content": content, "contentType": "text/html"})
    assert "html part" in error.message and "line 3" in error.message


def test_a_bomb_in_the_template_is_refused_at_save() -> None:
    error = refused({"subject": "Code", "content": "{{ code }}{{ 'a' * 10**9 }}"})
    assert "sandbox" in error.message and "'SignIn'" in error.message


def test_a_code_usage_type_without_the_code_is_a_warning() -> None:
    found = check({"subject": "Welcome", "content": "Hello {{ user.name }}"}, "Register")
    assert len(found) == 1 and "no code placeholder" in found[0] and "Register" in found[0]
    assert check({"subject": "Join", "content": "{{link}}"}, "OrganizationInvitation") == []


def test_a_misspelt_usage_type_is_a_warning() -> None:
    found = check({"subject": "c", "content": "{{code}}"}, "Regsiter")
    assert any("did you mean 'Register'" in text for text in found)


def test_an_email_template_object_is_checked_too() -> None:
    template = EmailTemplate(usage_type="SignIn", subject="s", content="{% for %}")
    with pytest.raises(ConnectorError) as info:
        MAILER.check_template(template)
    assert info.value.code is ErrorCode.TEMPLATE_ERROR and "Syntax error" in info.value.message


def test_details_without_a_usage_type_ask_for_one() -> None:
    error = refused({"subject": "s", "content": "{{code}}"}, None)
    assert "usage_type" in error.message


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("sendFrom", "not an address", "sendFrom"),
        ("sendFrom", "a@acme.com, b@acme.com", "invalid characters"),
        ("replyTo", "help@acme.test", "special-use"),
        ("sendFrom", "{{ application.name <a@acme.com>", "sendFrom part"),
        ("replyTo", "{{ 'a' * 10**9 }} <a@acme.com>", "sandbox"),
    ],
    ids=["not-an-address", "two-mailboxes", "special-use", "syntax", "bomb"],
)
def test_send_from_and_reply_to_are_checked_like_from_email(key: str, value: str, why: str) -> None:
    error = refused({"subject": "c", "content": "{{code}}", key: value})
    assert why in error.message


def test_special_use_domains_follow_the_config() -> None:
    template = {"subject": "c", "content": "{{code}}", "replyTo": "help@acme.test"}
    assert check(template, allowSpecialUseDomains=True) == []
