"""Server tests: the ASGI app in-process over httpx (where a process adds nothing), on the
same SQLite/PostgreSQL backends as the store tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from service_fixtures import database_url, pg_database, service, sqlite_url  # noqa: F401

from smtp_connector.server import Settings, create_app
from smtp_connector.store import CLI_ACTOR, Service


@dataclass
class Api:
    client: httpx.AsyncClient
    service: Service

    async def key(self, *scopes: str, app: str | None = None) -> dict[str, str]:
        """Bearer headers for a new key (both scopes unless given)."""
        _, raw = await self.service.keys.create(
            CLI_ACTOR, scopes or ("smtpserver_read", "smtpserver_write"), app=app
        )
        return {"Authorization": f"Bearer {raw}"}


def client_for(service: Service, **settings: object) -> httpx.AsyncClient:
    app = create_app(Settings(**settings), service=service)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.fixture
async def api(service: Service) -> AsyncIterator[Api]:  # noqa: F811
    async with client_for(service) as client:
        yield Api(client, service)
