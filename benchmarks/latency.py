"""Single-send latency over STARTTLS + AUTH: a warm pooled connection vs a cold one.

The server is aiosmtpd with a trustme certificate in a separate process (latency_server.py);
"cold" uses `pool.maxMessages: 1`, so every send pays TCP + greeting + EHLO + STARTTLS + AUTH.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trustme

from smtp_connector import SmtpConnector

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "bench@example.com", "bench-password"


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
    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as folder:
        cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        issued = ca.issue_cert("127.0.0.1")
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        server = subprocess.Popen(
            [sys.executable, str(HERE / "latency_server.py"), str(cert), str(key), PASSWORD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )
        assert server.stdout is not None and server.stdin is not None
        port = int(server.stdout.readline())
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
            server.stdin.close()
            server.wait(timeout=10)
    return {
        "warm_p50_ms": statistics.median(warm),
        "warm_p99_ms": _percentile(warm, 99),
        "cold_p50_ms": statistics.median(cold),
        "cold_p99_ms": _percentile(cold, 99),
    }


if __name__ == "__main__":
    print(measure())
