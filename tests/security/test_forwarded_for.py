"""Finding 17 (LOW): from loopback, a forged `X-Forwarded-For` reset the failed-auth brake.

uvicorn believes `X-Forwarded-For` from 127.0.0.1 by default, so a client on the service's
machine (or anything a local reverse proxy passes through unchanged) named a new address with
every bad key and was never slowed down. Now proxy headers count only from the proxies named in
`SMTP_CONNECTOR_TRUSTED_PROXIES` (none by default). Against a real `serve`: 20 bad keys with 20
different forged addresses are 20 failures of one client, and the 21st request is 429; with
127.0.0.1 named as a proxy, the header names the client again (each forged address is its own
client, and the access log shows it).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from edge_support import Served, serve_on


def bad_key(served: Served, forwarded_for: str) -> int:
    response = httpx.get(f"{served.process.base_url}/v1/apps", timeout=30,
                         headers={"Authorization": "Bearer sck_forged_key",
                                  "X-Forwarded-For": forwarded_for})  # fmt: skip
    return response.status_code


def test_a_forged_forwarded_for_does_not_reset_the_brake(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'xff.db'}"
    with serve_on(url, tmp_path / "serve.log", log_level="info") as served:  # default limit 20
        forged = [f"203.0.113.{number}" for number in range(1, 21)]
        with ThreadPoolExecutor(10) as pool:  # each failure is answered late; in parallel
            statuses = list(pool.map(lambda ip: bad_key(served, ip), forged))
        assert statuses == [403] * 20
        assert bad_key(served, "198.51.100.77") == 429  # a 21st address: still the same client
        with served.client() as client:  # and so is the key holder on this machine, for now
            assert client.get("/v1/apps").status_code == 429
        log = served.log()
    assert "203.0.113." not in log and "127.0.0.1:" in log  # the socket's address is logged


def test_trusted_proxies_make_the_header_count(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'proxy.db'}"
    env = {"SMTP_CONNECTOR_TRUSTED_PROXIES": "127.0.0.1", "SMTP_CONNECTOR_AUTH_FAILURE_LIMIT": "3"}
    with serve_on(url, tmp_path / "serve.log", log_level="info", **env) as served:
        assert [bad_key(served, "203.0.113.9") for _ in range(4)] == [403, 403, 403, 429]
        assert bad_key(served, "203.0.113.10") == 403  # another client behind the proxy
        with served.client(**{"X-Forwarded-For": "203.0.113.11"}) as client:
            assert client.get("/v1/apps").status_code == 200
        log = served.log()
    assert '203.0.113.9:0 - "GET /v1/apps' in log  # the access log names the real client
