"""What the admin page's browser tests share: a real `smtp-connector serve` (SQLite, keys made
by the CLI), Debian's Chromium through Playwright, and the steps a person takes (sign in,
choose an app) — imported by tests/server/test_admin_page*.py, fixtures included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from browser_support import CONTRAST_BELOW_AA, WIDER_THAN_VIEWPORT, Traffic, chromium
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

# An `expect` waits for the page to get there; Playwright's 5 s default is a guess at how fast
# Chromium, the page's requests and the `serve` behind them run, which a loaded CI machine can
# miss. A longer wait only changes how long a real failure takes to report.
expect.set_options(timeout=30_000)


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


# Elements whose content is wider than their box (text running out of it), except boxes that
# scroll on purpose, form controls (a long typed value scrolls inside its input), and the
# 1-px boxes of text for screen readers only.
OVERFLOWING = """() => [...document.querySelectorAll('#workspace *, header *')]
  .filter((node) => node.checkVisibility() && node.clientWidth > 1
    && !['INPUT', 'SELECT', 'TEXTAREA', 'IFRAME', 'OPTION'].includes(node.tagName)
    && !['auto', 'scroll'].includes(getComputedStyle(node).overflowX)
    && node.scrollWidth > node.clientWidth + 1)
  .map((node) => `${node.tagName}#${node.id}.${node.className}: ${node.scrollWidth}`)"""
# One-word values (an engine name, a count, a status) whose text runs over several lines.
WRAPPED_WORDS = """() => [...document.querySelectorAll('.facts dd, td')]
  .filter((node) => node.checkVisibility() && node.textContent.trim()
    && !/\\s/.test(node.textContent.trim()) && node.childElementCount === 0)
  .filter((node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
  })
  .map((node) => `${node.id || node.dataset.label}: ${node.textContent}`)"""
# Server addresses (host:port) broken inside a label: a line of one may start only after a
# dot or a hyphen, or with the port's colon.
BROKEN_ADDRESSES = """() => [...document.querySelectorAll('.address')].filter((node) => {
    const text = node.textContent, range = document.createRange();
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    const chars = [];
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      for (let i = 0; i < t.length; i++) {
        range.setStart(t, i); range.setEnd(t, i + 1);
        chars.push(range.getBoundingClientRect().top);
      }
    }
    return chars.some((top, i) => i > 0 && top > chars[i - 1] + 2
      && !'.-'.includes(text[i - 1]) && text[i] !== ':');
  }).map((node) => node.textContent)"""
# Pairs of a label (dt) and its value (dd) where the value is not below (narrow) / beside (wide).
LABELS_PLACED = """(below) => [...document.querySelectorAll('.facts dt')]
  .filter((dt) => dt.checkVisibility() && dt.nextElementSibling)
  .filter((dt) => {
    const a = dt.getBoundingClientRect(), b = dt.nextElementSibling.getBoundingClientRect();
    return below ? b.top < a.bottom - 1 : Math.abs(b.top - a.top) > 2 || b.left < a.right;
  })
  .map((dt) => dt.textContent)"""


def assert_layout(tab: Page, width: int) -> None:
    """Nothing wider than the viewport or overflowing its box, no one-word value wrapped, no
    address broken inside a label, labels beside (wide) or above (narrow) values, and text
    contrast at WCAG AA for whatever is open now."""
    assert tab.evaluate(WIDER_THAN_VIEWPORT) == [], width
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    assert tab.evaluate(OVERFLOWING) == [], width
    assert tab.evaluate(WRAPPED_WORDS) == [], width
    assert tab.evaluate(BROKEN_ADDRESSES) == [], width
    assert tab.evaluate(LABELS_PLACED, width == NARROW) == [], width
    assert tab.evaluate(CONTRAST_BELOW_AA) == [], width
