"""A template's own From and Reply-To (Logto's `sendFrom`/`replyTo` template details): which
address each message carries, with placeholders, beside the config's, and through the
compose cache (both compose paths run, tests/compose/conftest.py)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.utils import parseaddr
from typing import Any

from smtp_connector import SmtpConnector

BASE: dict[str, Any] = {
    "transport": "memory",
    "fromEmail": "no-reply@acme.com",
    "fromName": "Acme",
    "replyTo": "support@acme.com",
}
TEMPLATES = [
    {"usageType": "SignIn", "subject": "in {{code}}", "content": "{{code}}",
     "sendFrom": "Security <security@acme.com>"},
    {"usageType": "Register", "subject": "up {{code}}", "content": "{{code}}",
     "sendFrom": "welcome@acme.com", "replyTo": "{{user.email}}"},
    {"usageType": "ForgotPassword", "subject": "pw {{code}}", "content": "{{code}}",
     "sendFrom": "<<application.name>> <reset@acme.com>"},
]  # fmt: skip


def headers(mailer: SmtpConnector, usage: str, payload: dict[str, Any]) -> tuple[Any, ...]:
    message = message_from_bytes(mailer.render(usage, payload).as_bytes(), policy=policy.default)
    reply = message["Reply-To"]
    return parseaddr(str(message["From"])), str(reply) if reply else None, message["Message-ID"]


def test_each_template_has_its_own_from_and_reply_to_in_any_order() -> None:
    mailer = SmtpConnector(BASE | {"templates": TEMPLATES})
    payload = {"code": "1", "user": {"email": "ana@example.org"}, "application": {"name": "Shop"}}
    expected = {
        "SignIn": (("Security", "security@acme.com"), "support@acme.com"),
        "Register": (("Acme", "welcome@acme.com"), "ana@example.org"),
        "ForgotPassword": (("Shop", "reset@acme.com"), "support@acme.com"),
        "MfaVerification": (("Acme", "no-reply@acme.com"), "support@acme.com"),
    }
    for usage in [*expected, *reversed(expected), *expected]:  # cached shapes in between
        sender, reply_to, message_id = headers(mailer, usage, payload)
        assert (sender, reply_to) == expected[usage], usage
        assert message_id.endswith("@acme.com>")


def test_placeholders_are_rendered_per_message() -> None:
    mailer = SmtpConnector(BASE | {"templates": TEMPLATES})
    for name in ("Ana", "Bob", "Chloé"):
        (display, address), _, _ = headers(
            mailer, "ForgotPassword", {"code": "1", "application": {"name": name}}
        )
        assert (display, address) == (name, "reset@acme.com")


def test_a_template_from_goes_into_the_envelope_too() -> None:
    mailer = SmtpConnector(BASE | {"templates": TEMPLATES})
    assert mailer.render("SignIn", {"code": "1"}).envelope_from == "security@acme.com"
