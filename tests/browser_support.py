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


def assert_no_secret(page: Any, traffic: Traffic, *secrets: str) -> None:
    """Not in the DOM of the page or of any frame, not in any response the page received."""
    for frame in page.frames:
        frame.wait_for_load_state()  # a preview iframe may be loading its new srcdoc
        html = frame.content()
        for secret in secrets:
            assert secret not in html, f"a secret is in the DOM of {frame.url}"
    bodies = traffic.bodies()
    assert len(bodies) > 10  # it did look at the traffic
    for url, body in bodies:
        for secret in secrets:
            assert secret.encode() not in body, f"a secret is in the response of {url}"


# Page checks evaluated in the browser (`page.evaluate(...)`), each returning what fails.
WIDER_THAN_VIEWPORT = """() => [...document.querySelectorAll('body *')]
    .filter((node) => node.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map((node) => `${node.tagName}#${node.id}.${node.className}`).slice(0, 10)"""
# WCAG 2 relative luminance and contrast of each element that shows text directly, against the
# first opaque background up its ancestors.
CONTRAST_BELOW_AA = """() => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (node) => {
    for (; node; node = node.parentElement) {
      const color = rgb(getComputedStyle(node).backgroundColor);
      if (color.length < 4 || color[3] > 0) return color;
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll('body *')]
    .filter((node) => node.checkVisibility() && [...node.childNodes]
      .some((child) => child.nodeType === 3 && child.textContent.trim()))
    .map((node) => {
      const style = getComputedStyle(node);
      const [a, b] = [lum(rgb(style.color)), lum(background(node))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      return { node: `${node.tagName}#${node.id}.${node.className}`, ratio, need: large ? 3 : 4.5 };
    })
    .filter((item) => item.ratio < item.need);
}"""
