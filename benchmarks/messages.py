"""The one message every contender sends: the shipped SignIn template (text + HTML), rendered
by the connector with a placeholder code, so nodemailer and the raw clients send the same bytes
of content and only differ in how they build and deliver them."""

from __future__ import annotations

import json
from pathlib import Path

from smtp_connector import SmtpConnector

PLACEHOLDER = "CODE_PLACEHOLDER"
FROM = "Acme <noreply@example.com>"


def reference_message() -> dict[str, str]:
    connector = SmtpConnector(
        {"transport": "memory", "fromEmail": "noreply@example.com", "fromName": "Acme"}
    )
    rendered = connector.render(
        "SignIn", {"code": PLACEHOLDER, "application": {"name": "Acme"}}, locale="en"
    )
    assert rendered.html is not None and rendered.text is not None
    return {"subject": rendered.subject, "text": rendered.text, "html": rendered.html}


def write_reference(path: Path) -> None:
    path.write_text(json.dumps({**reference_message(), "placeholder": PLACEHOLDER, "from": FROM}))
