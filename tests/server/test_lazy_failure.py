"""A router that cannot be installed on its first request (a broken installation) is answered
500 by the first-use layer in the app's error envelope, naming what is missing, and logged;
the app still answers other paths, and a later request tries the install again. The layer
returns the wrapped app's call rather than awaiting it (lazy_routers.py `_FirstUse`): the
answer, and a raise for a non-HTTP scope, must be what they were."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from fastapi import FastAPI

from smtp_connector.server import Settings, create_app
from smtp_connector.server import app as app_module


async def test_a_router_that_does_not_install_is_answered_500(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tries: list[str] = []

    def broken(app: FastAPI, name: str) -> None:
        tries.append(name)
        raise ImportError("no module named 'jinja2'", name="jinja2")

    monkeypatch.setattr(app_module, "_load_admin_router", broken)
    app = create_app(Settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        answer = await client.get("/v1/apps", headers={"Authorization": "Bearer sck_x"})
        assert answer.status_code == 500
        error = answer.json()["error"]
        assert error["code"] == "internal_error"
        assert "could not load the routes for this path (ImportError: jinja2)" in error["message"]
        assert "Traceback" not in answer.text and "sck_x" not in answer.text
        again = await client.get("/v1/apps")
        assert again.status_code == 500 and tries == ["apps", "apps"]
        health = await client.get("/v1/health")  # reaches no waiting router
        assert health.status_code != 500
    assert "could not install the routes for /v1/apps" in caplog.text


async def test_a_non_http_request_to_such_a_path_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(app: FastAPI, name: str) -> None:
        raise ImportError("broken", name="jinja2")

    monkeypatch.setattr(app_module, "_load_admin_router", broken)
    app = create_app(Settings())

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        return None

    scope = {"type": "websocket", "path": "/v1/apps", "headers": [], "query_string": b""}
    with pytest.raises(ImportError):
        await app(scope, receive, send)
