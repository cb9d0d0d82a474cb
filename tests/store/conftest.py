"""Store tests share the backend fixtures (SQLite and PostgreSQL)."""

from service_fixtures import database_url, pg_database, service, sqlite_url  # noqa: F401
