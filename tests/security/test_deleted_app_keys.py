"""Finding 16: the keys of a deleted app kept working for up to 2 s (the key check's cache),
also against a new app created with the same id. Deleting an app now forgets its keys at once.

Through a real `serve` (the cache lives in that process); the in-process variant on SQLite
and PostgreSQL is in tests/server/test_tenant_keys.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import ServeProcess, key_headers, serve_env, start_serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, str]]:
    folder = tmp_path_factory.mktemp("deleted-app-keys")
    url = f"sqlite:///{folder / 'service.db'}"
    key_headers(url)  # migrates before serve starts
    process = start_serve(url, folder / "serve.log", serve_env())
    try:
        yield process, url
    finally:
        process.stop()


def test_deleted_app_keys_are_refused_at_once(served: tuple[ServeProcess, str]) -> None:
    process, url = served
    operator = key_headers(url)
    with httpx.Client(base_url=process.base_url, timeout=10) as client:
        created = client.post("/v1/apps", json={"name": "shop", "id": "shop"}, headers=operator)
        assert created.status_code == 201, created.text
        tenant = key_headers(url, app="shop")
        assert client.get("/v1/apps/shop", headers=tenant).status_code == 200  # now cached

        assert client.delete("/v1/apps/shop", headers=operator).status_code == 204
        gone = client.get("/v1/apps/shop", headers=tenant)
        assert gone.status_code == 403, gone.text
        assert gone.json()["error"]["message"] == "Unknown or revoked API key."

        # The same id again, at once: the old tenant's key must not reach the new app.
        again = client.post("/v1/apps", json={"name": "shop", "id": "shop"}, headers=operator)
        assert again.status_code == 201, again.text
        for path in ("/v1/apps/shop", "/v1/apps", "/v1/apps/shop/servers"):
            response = client.get(path, headers=tenant)
            assert response.status_code == 403, (path, response.text)
        sent = client.post("/v1/apps/shop/messages", json={"to": "a@example.org"}, headers=tenant)
        assert sent.status_code == 403, sent.text  # the send short path checks the same cache
        assert client.get("/v1/apps/shop", headers=operator).status_code == 200


def test_a_key_deleting_its_own_app_is_refused_afterwards(
    served: tuple[ServeProcess, str],
) -> None:
    """The newcomer's case: a tenant key that may write deletes its own app; its next call
    says the key is gone rather than reaching the app recreated under that id."""
    process, url = served
    operator = key_headers(url)
    with httpx.Client(base_url=process.base_url, timeout=10) as client:
        client.post("/v1/apps", json={"name": "blog", "id": "blog"}, headers=operator)
        tenant = key_headers(url, app="blog")
        assert client.get("/v1/apps/blog", headers=tenant).status_code == 200
        assert client.delete("/v1/apps/blog", headers=tenant).status_code == 204
        client.post("/v1/apps", json={"name": "blog", "id": "blog"}, headers=operator)
        assert client.get("/v1/apps/blog", headers=tenant).status_code == 403
