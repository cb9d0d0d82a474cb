"""Database URLs as people write them, mapped onto the async drivers the store runs on.

Operators copy URLs from docs and other tools (`sqlite:///./x.db`, `postgresql://u@h/db`,
Heroku-style `postgres://`); the store needs `sqlite+aiosqlite` / `postgresql+psycopg`.
Mapping them here keeps every other module free of driver names.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from smtp_connector.errors import ConnectorError, ErrorCode

DEFAULT_DATABASE_URL = "sqlite:///./smtp-connector.db"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
}


def async_url(raw: str) -> URL:
    """The async-driver URL for `raw`; an unsupported scheme is an actionable config error."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            "The database URL is not a URL; use e.g. sqlite:///./smtp-connector.db or "
            "postgresql://user@host/dbname.",
        ) from None
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"Unsupported database {url.drivername!r}: use sqlite:///PATH or "
            "postgresql://user@host/dbname (extra `postgres`).",
        )
    return url.set(drivername=driver)


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    if not is_sqlite(url) or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser()


def safe_url(url: URL) -> str:
    """The URL for logs and messages: the password never appears."""
    return url.render_as_string(hide_password=True)
