"""The service fixtures for these tests (`database_url` runs a test on SQLite and on PostgreSQL,
`service` opens the store on it); see tests/service_fixtures.py."""

import importlib.util

if importlib.util.find_spec("sqlalchemy") is not None:  # without the server extra the tests skip
    from api_client import api  # noqa: F401
    from service_fixtures import database_url, pg_database, service, sqlite_url  # noqa: F401
    from template_serve import served  # noqa: F401
