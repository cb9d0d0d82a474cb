"""Helpers for the browser tests: Debian's Chromium driven by Playwright for Python, and a
recorder of every response a page received (to prove a secret never reached it).

Playwright's own browser download cannot work here, so the tests launch `/usr/bin/chromium`
(`apt-get install chromium`). Without it (or without the `playwright` package) they skip with
the reason; with CI=true they fail instead, since `.ci/run` installs both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from service_support import in_ci

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"Chromium and Playwright are required on CI: {reason}")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (Playwright's sync API), closed afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        browser_unavailable(
            f"{CHROMIUM} is missing (DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Traffic:
    """Every response a page received, and what went wrong in the page's script."""

    responses: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("response", lambda response: self.responses.append(response))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def bodies(self) -> list[tuple[str, bytes]]:
        """(url, body) of every response with a body; redirects and 204s have none."""
        found = []
        for response in self.responses:
            if response.status in (204, 304) or 300 <= response.status < 400:
                continue
            found.append((response.url, response.body()))
        return found

    def urls(self) -> list[str]:
        return [response.url for response in self.responses]
