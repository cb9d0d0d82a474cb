"""The service's settings, in one place: environment first, CLI flags win.

`SMTP_CONNECTOR_DATABASE_URL` and `SMTP_CONNECTOR_SECRET_KEY` are the two an operator sets;
the rest have defaults a single-machine install never needs to touch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.store import DEFAULT_DATABASE_URL
from smtp_connector.store.secrets import SECRET_KEY_ENV

DATABASE_URL_ENV = "SMTP_CONNECTOR_DATABASE_URL"
AUTH_FAILURE_LIMIT_ENV = "SMTP_CONNECTOR_AUTH_FAILURE_LIMIT"


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment, then `overrides` (CLI flags) where not None."""
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL,
            secret_key=env.get(SECRET_KEY_ENV) or None,
        )
        limit = env.get(AUTH_FAILURE_LIMIT_ENV, "").strip()
        if limit:
            if not limit.isdigit():
                raise ConnectorError(
                    ErrorCode.INVALID_CONFIG,
                    f"{AUTH_FAILURE_LIMIT_ENV} must be a whole number (0 = off), got {limit!r}",
                )
            settings = replace(settings, auth_failure_limit=int(limit))
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
