"""Single-send latency over STARTTLS + AUTH: a warm pooled connection vs a cold one.

The server is aiosmtpd with a trustme certificate, in this process's background thread; "cold"
uses `pool.maxMessages: 1`, so every send pays TCP + greeting + EHLO + STARTTLS + AUTH.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import statistics
import time
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sink import free_port

from smtp_connector import SmtpConnector

USER, PASSWORD = "bench@example.com", "bench-password"


class _Handler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and data.password.decode() == PASSWORD
    return AuthResult(success=ok)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def _timed_sends(config: dict[str, Any], count: int) -> list[float]:
    timings = []
    async with SmtpConnector(config) as connector:
        await connector.send("warmup@example.org", "SignIn", {"code": "000000"})
        for index in range(count):
            started = time.perf_counter()
            await connector.send(f"user{index}@example.org", "SignIn", {"code": f"{index:06d}"})
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def measure(warm_count: int = 300, cold_count: int = 100) -> dict[str, float]:
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-session chatter
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    port = free_port()
    controller = Controller(
        _Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    )
    controller.start()
    config = {
        "host": "127.0.0.1",
        "port": port,
        "fromEmail": "noreply@example.com",
        "auth": {"user": USER, "pass": PASSWORD},
        "requireTLS": True,
        "tls": {"ca": ca.cert_pem.bytes().decode()},
    }
    try:
        warm = asyncio.run(_timed_sends(config, warm_count))
        cold = asyncio.run(_timed_sends({**config, "pool": {"maxMessages": 1}}, cold_count))
    finally:
        controller.stop()
    return {
        "warm_p50_ms": statistics.median(warm),
        "warm_p99_ms": _percentile(warm, 99),
        "cold_p50_ms": statistics.median(cold),
        "cold_p99_ms": _percentile(cold, 99),
    }


if __name__ == "__main__":
    print(measure())
