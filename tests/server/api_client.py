"""The in-process API client for server tests (`import api_client`); test modules import
the `api` fixture from here (no conftest.py in tests/server: the root conftest's module name
must stay unshadowed for the library tests that import from it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from smtp_connector.server import Settings, create_app
from smtp_connector.store import CLI_ACTOR, SCOPES, Service


@dataclass
class Api:
    client: httpx.AsyncClient
    service: Service

    async def key(self, *scopes: str, app: str | None = None) -> dict[str, str]:
        """Bearer headers for a new key (every scope unless given)."""
        _, raw = await self.service.keys.create(CLI_ACTOR, scopes or SCOPES, app=app)
        return {"Authorization": f"Bearer {raw}"}


def client_for(opened: Service, **settings: object) -> httpx.AsyncClient:
    """httpx over the ASGI app built around an already opened Service."""
    app = create_app(Settings(**settings), service=opened)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.fixture
async def api(service: Service) -> AsyncIterator[Api]:
    """The ASGI app over httpx, around the `service` fixture (SQLite and PostgreSQL)."""
    async with client_for(service) as client:
        yield Api(client, service)
