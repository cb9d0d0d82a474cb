"""What the admin page's browser tests share: a real `smtp-connector serve` (SQLite, keys made
by the CLI), Debian's Chromium through Playwright, and the steps a person takes (sign in,
choose an app) — imported by tests/server/test_admin_page*.py, fixtures included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from browser_support import Traffic, chromium
from service_support import (
    SECRET_KEY,
    SMTP_PASSWORD,
    ServeProcess,
    create_key_cli,
    env_with,
    in_ci,
    start_serve,
)

try:
    from playwright.sync_api import Page, expect
except ImportError:
    if in_ci():  # on CI a missing browser stack is a failure, not a skip
        raise
    pytest.skip("the browser tests need `pip install playwright`", allow_module_level=True)

USER = "mailer@example.com"
WIDE, NARROW = 1280, 375


@dataclass
class Served:
    process: ServeProcess
    admin: str
    reader: str

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin}"}
        return httpx.Client(base_url=self.process.base_url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def served(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("admin-page")
    url = f"sqlite:///{folder / 'admin.db'}"
    env = env_with(SMTP_CONNECTOR_SECRET_KEY=SECRET_KEY)
    admin = create_key_cli(url, env=env)
    reader = create_key_cli(url, "smtpserver_read", env=env)
    process = start_serve(url, folder / "serve.log", env, log_level="info")
    yield Served(process, admin, reader)
    process.stop()
    log = (folder / "serve.log").read_text()
    assert "GET / HTTP" in log and SMTP_PASSWORD not in log and admin not in log


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[tuple[Page, Traffic]]:
    context = browser.new_context(
        viewport={"width": WIDE, "height": 900}, base_url=served.process.base_url
    )
    opened = context.new_page()
    traffic = Traffic()
    traffic.attach(opened)
    yield opened, traffic
    context.close()
    assert not traffic.errors, traffic.errors  # no script error on the page


def sign_in(page: Page, key: str, path: str = "/") -> None:
    page.goto(path)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#workspace")).to_be_visible()


def make_app(served: Served, name: str, *definitions: dict[str, Any]) -> str:
    with served.api() as client:
        app = client.post("/v1/apps", json={"name": name, "testEmail": "ops@example.org"})
        app.raise_for_status()
        for definition in definitions:
            client.post(f"/v1/apps/{app.json()['id']}/servers", json=definition).raise_for_status()
    return str(app.json()["id"])


def definition(port: int, **fields: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "security": "none", "username": USER,
            "password": SMTP_PASSWORD, "fromEmail": "noreply@example.com", "timeout": 5,
            } | fields  # fmt: skip


def choose_app(page: Page, app_id: str) -> None:
    page.get_by_label("App", exact=True).select_option(app_id)
    expect(page.locator("#server-list")).to_be_attached()


def server_item(page: Page, name: str) -> Any:
    return page.locator("li.server").filter(has=page.get_by_role("heading", name=name))
