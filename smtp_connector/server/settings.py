"""The service's settings, in one place: environment first, CLI flags win.

`SMTP_CONNECTOR_DATABASE_URL` and `SMTP_CONNECTOR_SECRET_KEY` are the two an operator sets;
the rest have defaults a single-machine install never needs to touch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.store import DEFAULT_DATABASE_URL
from smtp_connector.store.network import NETWORK_POLICY_ENV, NetworkPolicy
from smtp_connector.store.policy import DEFAULT_MAX_PER_APP, ServicePolicy
from smtp_connector.store.secrets import SECRET_KEY_ENV
from smtp_connector.store.smime_material import SMIME_DIR_ENV

from .edge_settings import edge_env

DATABASE_URL_ENV = "SMTP_CONNECTOR_DATABASE_URL"
AUTH_FAILURE_LIMIT_ENV = "SMTP_CONNECTOR_AUTH_FAILURE_LIMIT"
MAX_DEFINITIONS_ENV = "SMTP_CONNECTOR_MAX_DEFINITIONS_PER_APP"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8025
    migrate: bool | None = None  # None: migrate on SQLite, require a current schema elsewhere
    max_body_bytes: int = 1024 * 1024
    # Failed authentications per client and window before 429; 0 turns the brake off (e.g.
    # behind a proxy that already limits, or for a fuzzer that sends bad keys on purpose).
    auth_failure_limit: int = 20
    auth_failure_window: float = 60.0
    # Queued sending: engine auto = embedded on SQLite, procrastinate on PostgreSQL; the
    # worker runs inside serve by default only with the embedded engine.
    queue_engine: str = "auto"
    queue_worker: bool | None = None
    queue_concurrency: int = 16
    queue_lease: float = 90.0  # seconds before a dead worker's claim is taken back
    # Server definitions one app may hold (every dialect's create answers 409 beyond it).
    max_definitions_per_app: int = DEFAULT_MAX_PER_APP
    # The HTTP edge (server/edge.py, server/runner.py): seconds for a request head to arrive,
    # for its body, and for an idle keep-alive connection; requests handled at once (503 past
    # it); proxies whose X-Forwarded-For/-Proto are believed (none: the socket's peer counts).
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 5.0
    max_concurrency: int = 200
    trusted_proxies: tuple[str, ...] = ()
    # Where definitions may connect (store/network.py: private, public, any, +CIDR, -CIDR).
    network_policy: str = "private"
    # The directory S/MIME key and certificate paths must be in; None: PEM text only.
    smime_dir: str | None = None

    def service_policy(self) -> ServicePolicy:
        """The domain's view of these settings (raises invalid_config for a bad policy)."""
        return ServicePolicy(
            network=NetworkPolicy.parse(self.network_policy),
            smime_dir=Path(self.smime_dir) if self.smime_dir else None,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment, then `overrides` (CLI flags) where not None."""
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL,
            secret_key=env.get(SECRET_KEY_ENV) or None,
            network_policy=env.get(NETWORK_POLICY_ENV, "").strip() or "private",
            smime_dir=_smime_dir(env.get(SMIME_DIR_ENV, "").strip()),
        )
        NetworkPolicy.parse(settings.network_policy)  # a typo fails at start, not per send
        limit = env.get(AUTH_FAILURE_LIMIT_ENV, "").strip()
        if limit:
            if not limit.isdigit():
                raise ConnectorError(
                    ErrorCode.INVALID_CONFIG,
                    f"{AUTH_FAILURE_LIMIT_ENV} must be a whole number (0 = off), got {limit!r}",
                )
            settings = replace(settings, auth_failure_limit=int(limit))
        settings = replace(settings, **_queue_env(env), **edge_env(env))
        cap = env.get(MAX_DEFINITIONS_ENV, "").strip()
        if cap:
            if not cap.isdigit() or not 1 <= int(cap) <= 100_000:
                raise ConnectorError(
                    ErrorCode.INVALID_CONFIG,
                    f"{MAX_DEFINITIONS_ENV} must be a whole number from 1 to 100000 (server "
                    f"definitions per app; default {DEFAULT_MAX_PER_APP}), got {cap!r}",
                )
            settings = replace(settings, max_definitions_per_app=int(cap))
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


QUEUE_ENV = {
    "queue_engine": "SMTP_CONNECTOR_QUEUE_ENGINE",
    "queue_worker": "SMTP_CONNECTOR_QUEUE_WORKER",
    "queue_concurrency": "SMTP_CONNECTOR_QUEUE_CONCURRENCY",
    "queue_lease": "SMTP_CONNECTOR_QUEUE_LEASE",
}


def _queue_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The queue's settings from the environment, each checked with a message naming it."""
    found: dict[str, Any] = {}
    for name, var in QUEUE_ENV.items():
        raw = env.get(var, "").strip()
        if not raw:
            continue
        try:
            if name == "queue_engine":
                if raw not in ("auto", "embedded", "procrastinate"):
                    raise ValueError
                found[name] = raw
            elif name == "queue_worker":
                found[name] = {"1": True, "true": True, "0": False, "false": False}[raw.lower()]
            elif name == "queue_concurrency":
                found[name] = int(raw)
                if not 1 <= found[name] <= 1000:
                    raise ValueError
            else:
                found[name] = float(raw)
                if found[name] <= 0:
                    raise ValueError
        except (ValueError, KeyError):
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                f"{var}={raw!r} is not valid: engine auto|embedded|procrastinate, worker 0|1, "
                "concurrency 1-1000, lease seconds > 0",
            ) from None
    return found


def _smime_dir(raw: str) -> str | None:
    """The S/MIME directory, which must exist (a typo would silently refuse every path)."""
    if not raw:
        return None
    if not Path(raw).is_dir():
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"{SMIME_DIR_ENV}={raw!r} is not a directory."
        )
    return str(Path(raw).resolve())
