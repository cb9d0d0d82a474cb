"""The HTTP edge's settings from the environment, each checked with a message naming it.

| variable | setting | default |
|---|---|---|
| `SMTP_CONNECTOR_HEADER_TIMEOUT` | seconds for a request's head (request line and headers) | 10 |
| `SMTP_CONNECTOR_BODY_TIMEOUT` | seconds spent waiting for a request's body, in total | 30 |
| `SMTP_CONNECTOR_KEEPALIVE_TIMEOUT` | seconds an idle keep-alive connection stays open | 5 |
| `SMTP_CONNECTOR_MAX_CONCURRENCY` | requests handled at once; more are answered 503 | 200 |
| `SMTP_CONNECTOR_TRUSTED_PROXIES` | proxies (IPs, networks) whose `X-Forwarded-*` count | none |
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from typing import Any

from smtp_connector.errors import ConnectorError, ErrorCode

TIMEOUT_ENV = {
    "header_timeout": "SMTP_CONNECTOR_HEADER_TIMEOUT",
    "body_timeout": "SMTP_CONNECTOR_BODY_TIMEOUT",
    "keepalive_timeout": "SMTP_CONNECTOR_KEEPALIVE_TIMEOUT",
}
CONCURRENCY_ENV = "SMTP_CONNECTOR_MAX_CONCURRENCY"
TRUSTED_PROXIES_ENV = "SMTP_CONNECTOR_TRUSTED_PROXIES"
MAX_TIMEOUT = 3600.0
MAX_CONCURRENCY = 100_000


def edge_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The edge settings set in `env` (unset or blank variables keep their defaults)."""
    found: dict[str, Any] = {}
    for name, var in TIMEOUT_ENV.items():
        raw = env.get(var, "").strip()
        if raw:
            found[name] = _number(var, raw, float, 0.0, MAX_TIMEOUT, "seconds, more than 0")
    raw = env.get(CONCURRENCY_ENV, "").strip()
    if raw:
        found["max_concurrency"] = _number(
            CONCURRENCY_ENV, raw, int, 1, MAX_CONCURRENCY, "a whole number of requests"
        )
    raw = env.get(TRUSTED_PROXIES_ENV, "").strip()
    if raw:
        found["trusted_proxies"] = trusted_proxies(raw)
    return found


def _number(var: str, raw: str, kind: type, low: float, high: float, what: str) -> Any:
    """`raw` as `kind` within (low, high] for seconds, [low, high] for counts."""
    try:
        value = kind(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high or (kind is float and value == low):
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"{var}={raw!r} is not valid: {what}, at most {high:g}."
        )
    return value


def trusted_proxies(raw: str) -> tuple[str, ...]:
    """`raw` split on commas, each an IP address or network (`10.0.0.0/8`), or `*` for every
    peer (only where nothing but the proxy can reach the service)."""
    proxies = tuple(part.strip() for part in raw.split(",") if part.strip())
    for proxy in proxies:
        if proxy == "*":
            continue
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                f"{TRUSTED_PROXIES_ENV}: {proxy!r} is not an IP address or network "
                "(write e.g. 10.0.0.5,10.1.0.0/16, or * for every peer).",
            ) from None
    return proxies
