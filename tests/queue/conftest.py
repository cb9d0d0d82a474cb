"""Fixtures for the queue tests: `queue_url` runs a test on SQLite (embedded engine) and on the
machine's PostgreSQL (procrastinate engine); see tests/queue_support.py."""

import importlib.util

if importlib.util.find_spec("sqlalchemy") is not None:  # without the server extra the tests skip
    from queue_fixtures import (  # noqa: F401
        pg_queue_database,
        queue_url,
        queue_url_postgres,
        queued,
    )
