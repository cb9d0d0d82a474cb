"""Server tests: the ASGI app in-process over httpx (where a process adds nothing), on the
same SQLite/PostgreSQL backends as the store tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_client import Api, client_for
from service_fixtures import database_url, pg_database, service, sqlite_url  # noqa: F401

from smtp_connector.store import Service


@pytest.fixture
async def api(service: Service) -> AsyncIterator[Api]:  # noqa: F811
    async with client_for(service) as client:
        yield Api(client, service)
