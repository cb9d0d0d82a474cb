"""The shipped mails in a real browser: Debian's Chromium driven by Playwright, showing the HTML
part the connector renders, as a phone's mail app would (375 px wide) and a desktop's (1280 px).

At 375 px, in the light and the dark colour scheme, for every usage type in en, de, zh-CN and ar
(right to left): the code and the button's label each stay on one line (counted from the line
boxes of their text, not from pixels), nothing is wider than the screen, and every text has WCAG
AA contrast against its background (4.5:1, 3:1 for large text).

Screenshots of a few mails at 375 and 1280 px are written to the test's tmp dir, or to the folder
MAIL_SCREENSHOTS names: docs/templates.md's are made with
`MAIL_SCREENSHOTS=docs/images/mails pytest tests/mails/test_mails_in_browser.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import CONTRAST_BELOW_AA, WIDER_THAN_VIEWPORT, chromium
from mail_samples import USAGE_TYPES, sample_payload

from smtp_connector import SmtpConnector, UsageType

LOCALES = ("en", "de", "zh-CN", "ar")
PHONE, DESKTOP = 375, 1280
SCHEMES = ("light", "dark")
PAGE_BACKGROUND = {"light": "rgb(244, 245, 247)", "dark": "rgb(17, 24, 39)"}
CONNECTOR = SmtpConnector({"host": "smtp.example.com", "fromEmail": "noreply@example.com"})
# (usage type, locale, width, colour scheme) of the screenshots in docs/images/mails.
SCREENSHOTS = [
    (UsageType.SIGN_IN, "en", DESKTOP, "light"),
    (UsageType.SIGN_IN, "en", PHONE, "light"),
    (UsageType.SIGN_IN, "en", PHONE, "dark"),
    (UsageType.ORGANIZATION_INVITATION, "ar", PHONE, "light"),
    (UsageType.ORGANIZATION_INVITATION, "zh-CN", DESKTOP, "dark"),
]
# How many lines the text of each element matching the selector takes: its line boxes (the
# client rects of a range over its contents) grouped where they overlap vertically, so two
# runs of one line (Latin and Arabic, or a fallback font) count once.
LINES_OF_TEXT = """(selector) => [...document.querySelectorAll(selector)].map((node) => {
  const range = document.createRange();
  range.selectNodeContents(node);
  const boxes = [...range.getClientRects()].filter((box) => box.width > 0)
    .sort((a, b) => a.top - b.top);
  let lines = 0, bottom = -Infinity;
  for (const box of boxes) {
    if (box.top >= bottom - 0.5) { lines += 1; bottom = box.bottom; }
    else bottom = Math.max(bottom, box.bottom);
  }
  return { text: node.textContent.trim(), lines };
})"""


def mail_html(usage: UsageType, locale: str) -> str:
    html = CONNECTOR.render(usage, sample_payload(usage), locale=locale).html
    assert html is not None
    return html


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module", params=SCHEMES)
def tab(browser: Any, request: pytest.FixtureRequest) -> Iterator[tuple[Any, str]]:
    context = browser.new_context(
        color_scheme=request.param, viewport={"width": PHONE, "height": 800}
    )
    yield context.new_page(), request.param
    context.close()


def phone_problems(page: Any, scheme: str, usage: UsageType) -> list[str]:
    """What is wrong with the mail on `page` at 375 px; [] if nothing."""
    problems = []
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    if background != PAGE_BACKGROUND[scheme]:
        problems.append(f"{scheme} scheme not applied: page background {background}")
    code = page.evaluate(LINES_OF_TEXT, ".code")
    buttons = page.evaluate(LINES_OF_TEXT, "a")
    expected = (0, 1) if usage is UsageType.ORGANIZATION_INVITATION else (1, 0)
    if (len(code), len(buttons)) != expected:
        problems.append(f"{len(code)} code(s) and {len(buttons)} link(s), not {expected}")
    problems += [
        f"on {item['lines']} lines: {item}" for item in code + buttons if item["lines"] != 1
    ]
    if wider := page.evaluate(WIDER_THAN_VIEWPORT):
        problems.append(f"wider than {PHONE} px: {wider}")
    if low := page.evaluate(CONTRAST_BELOW_AA):
        problems.append(f"contrast below AA: {low}")
    return problems


@pytest.mark.parametrize("locale", LOCALES)
def test_code_and_link_stay_on_one_line_on_a_phone(tab: tuple[Any, str], locale: str) -> None:
    page, scheme = tab
    found = {}
    for usage in USAGE_TYPES:
        page.set_content(mail_html(usage, locale))
        if problems := phone_problems(page, scheme, usage):
            found[usage.value] = problems
    assert found == {}


def test_a_code_too_long_for_a_phone_wraps_inside_the_screen(tab: tuple[Any, str]) -> None:
    """The other side of `overflow-wrap: anywhere`: a code no phone can show on one line (a
    custom template's 32-character token) wraps rather than widening the mail."""
    page, _ = tab
    token = "K7P2Q9XMZ4R8T6W3" * 2
    page.set_content(CONNECTOR.render(UsageType.SIGN_IN, {"code": token}, locale="en").html or "")
    ((code,),) = [page.evaluate(LINES_OF_TEXT, ".code")]
    assert code["text"] == token and code["lines"] > 1
    assert page.evaluate(WIDER_THAN_VIEWPORT) == []


def test_screenshots_at_phone_and_desktop_width(browser: Any, tmp_path: Path) -> None:
    folder = Path(os.environ.get("MAIL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for usage, locale, width, scheme in SCREENSHOTS:
        context = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 100})
        page = context.new_page()
        page.set_content(mail_html(usage, locale))
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        name = f"{usage.value}-{locale}-{width}{'-dark' if scheme == 'dark' else ''}.png"
        page.screenshot(path=str(folder / name), full_page=True)
        context.close()
        assert (folder / name).read_bytes().startswith(b"\x89PNG")
