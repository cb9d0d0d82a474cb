"""The `smtp-connector demo`: the whole pipeline against an embedded server, nothing mocked.

It starts a local aiosmtpd server on a free port, builds a connector from a Logto-shaped config
with no templates (so the shipped SignIn template is used), sends a real code email over a real
socket, and reports what the server received.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from ..config import SmtpConfig
from ..connector import SmtpConnector
from ..errors import ConnectorError, ErrorCode
from ..testing.devserver import DevServer
from ..usage import UsageType

_SHOWN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Content-Type")


def run_demo(to: str = "new.user@example.org", locale: str = "en") -> dict[str, Any]:
    """Send one SignIn email to an embedded server; returns what was sent and received."""
    code = f"{secrets.randbelow(10**6):06d}"
    with DevServer() as server:
        config = SmtpConfig.model_validate(
            {
                "host": server.host,
                "port": server.port,
                "fromEmail": "noreply@demo.smtp-connector.dev",
                "fromName": "Acme Demo",
                "templates": [],
                "greetingTimeout": 5000,
                "socketTimeout": 10000,
            }
        )

        async def send() -> Any:
            async with SmtpConnector(config) as connector:
                return await connector.send(
                    to=to,
                    usage_type=UsageType.SIGN_IN,
                    payload={"code": code, "application": {"name": "Acme"}},
                    locale=locale,
                )

        started = time.perf_counter()
        result = asyncio.run(send())
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not server.wait_for(1, timeout=5):
            raise ConnectorError(ErrorCode.TIMEOUT, "The embedded server received nothing.")
        received = server.messages[0]
    message = received.parsed()
    text_part = message.get_body(("plain",))
    text = text_part.get_content() if text_part is not None else ""
    return {
        "server": f"{server.host}:{server.port}",
        "code": code,
        "message_id": result.message_id,
        "accepted": result.accepted,
        "ms": elapsed_ms,
        "headers": [(name, str(message[name])) for name in _SHOWN_HEADERS if message[name]],
        "text": text,
        "code_in_message": code in text and code in str(message["Subject"]),
        "raw_bytes": len(received.data),
    }
