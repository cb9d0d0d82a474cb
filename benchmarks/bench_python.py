"""One throughput run in its own process (so peak RSS is its own): the connector, raw aiosmtplib
with EmailMessage on one connection, or smtplib on one connection.

Usage: python bench_python.py MODE PORT COUNT  → one JSON line {count, seconds, errors, rss_mb}.
Timing starts once the client object exists (as nodemailer's starts after createTransport) and
includes connecting, building every message and delivering it.
"""

from __future__ import annotations

import asyncio
import json
import resource
import smtplib
import sys
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from messages import FROM, PLACEHOLDER, reference_message

from smtp_connector import ConnectorError, SmtpConnector


def stdlib_message(reference: dict[str, str], index: int) -> EmailMessage:
    code = f"{index:06d}"
    message = EmailMessage()
    message["From"] = FROM
    message["To"] = f"user{index}@example.org"
    message["Subject"] = reference["subject"].replace(PLACEHOLDER, code)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="example.com")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(reference["text"].replace(PLACEHOLDER, code))
    message.add_alternative(reference["html"].replace(PLACEHOLDER, code), subtype="html")
    return message


async def run_connector(port: int, count: int) -> tuple[int, float]:
    config = {
        "host": "127.0.0.1",
        "port": port,
        "fromEmail": "noreply@example.com",
        "fromName": "Acme",
        "ignoreTLS": True,
    }
    requests = (
        {
            "to": f"user{i}@example.org",
            "usage_type": "SignIn",
            "payload": {"code": f"{i:06d}", "application": {"name": "Acme"}},
        }
        for i in range(count)
    )
    connector = SmtpConnector(config)  # built once at application start, like a transport
    started = time.perf_counter()
    async with connector:
        results = await connector.send_many(requests, concurrency=50)
    return sum(isinstance(r, ConnectorError) for r in results), time.perf_counter() - started


async def run_aiosmtplib(port: int, count: int) -> tuple[int, float]:
    import aiosmtplib

    reference = reference_message()
    started = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
        for index in range(count):
            await smtp.send_message(stdlib_message(reference, index))
    return 0, time.perf_counter() - started


def run_smtplib(port: int, count: int) -> tuple[int, float]:
    reference = reference_message()
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for index in range(count):
            smtp.send_message(stdlib_message(reference, index))
    return 0, time.perf_counter() - started


def main() -> None:
    mode, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if mode == "connector":
        errors, seconds = asyncio.run(run_connector(port, count))
    elif mode == "aiosmtplib":
        errors, seconds = asyncio.run(run_aiosmtplib(port, count))
    elif mode == "smtplib":
        errors, seconds = run_smtplib(port, count)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"count": count, "seconds": seconds, "errors": errors, "rss_mb": rss_mb}))


if __name__ == "__main__":
    main()
