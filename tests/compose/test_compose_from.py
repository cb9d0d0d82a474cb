"""`SmtpConnector(config, compose_from=earlier)` (issue 27, finding 5): a service rebuilding a
connector after a server change keeps the earlier one's compiled templates and proven shapes
when the new config renders alike, so its first send compiles nothing (a compile costs tens
of milliseconds, on the event loop of every app); any rendering difference gets fresh ones."""

from __future__ import annotations

from smtp_connector import SmtpConnector

BASE = {"host": "127.0.0.1", "port": 2525, "ignoreTLS": True, "fromEmail": "noreply@example.com"}
CUSTOM = [{"usageType": "SignIn", "contentType": "text/plain", "subject": "Code {{code}}",
           "content": "Your code: {{code}}"}]  # fmt: skip


def test_a_rebuilt_connector_renders_without_compiling_again() -> None:
    first = SmtpConnector(BASE | {"templates": CUSTOM})
    expected = first.render("SignIn", {"code": "123456"}, to="a@example.org")
    moved = BASE | {"templates": CUSTOM, "host": "smtp.example.org", "port": 587}
    second = SmtpConnector(moved, compose_from=first)
    compiled = dict(second._renderer._compiled)
    again = second.render("SignIn", {"code": "654321"}, to="a@example.org")
    assert second._renderer is first._renderer
    assert second._renderer._compiled == compiled  # nothing compiled for this send
    assert again.subject == "Code 654321" and expected.subject == "Code 123456"
    assert second.config.host == "smtp.example.org"  # only rendering is shared


def test_anything_that_renders_differently_gets_its_own() -> None:
    first = SmtpConnector(BASE | {"templates": CUSTOM})
    changes = [
        {"templates": [CUSTOM[0] | {"subject": "Your code {{code}}"}]},
        {"templates": CUSTOM, "defaultLocale": "es"},
        {"templates": CUSTOM, "maxOutputBytes": 4096},
        {"templates": CUSTOM, "useShippedTemplates": False},
    ]
    for change in changes:
        other = SmtpConnector(BASE | change, compose_from=first)
        assert other._renderer is not first._renderer, change
    rendered = SmtpConnector(BASE | changes[0], compose_from=first).render("SignIn", {"code": "1"})
    assert rendered.subject == "Your code 1"
