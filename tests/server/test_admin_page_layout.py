"""The admin page's layout at 1280 and 375 px, and what issue 23 §5 found it getting wrong:
Chromium (Playwright) against a real `serve`, real aiosmtpd servers, messages really queued.

Layout, at both widths: no element wider than the viewport, no text overflowing its box, no
one-word value wrapped a letter per line (the queue's engine), server addresses on one line;
at 1280 every column of the message table visible, at 375 the table as cards with each value
under its column's name and every label above its value; the editor's Host and Port in view
with a preset's guard rails collapsed to one line. Behaviour: the hint follows the cause (a
server without AUTH does not get "check username and password"), a failed check's error is
shown once, a passing check turns the last error into a "Previous error", the queue panel
lists the app's messages with recipients masked, filters by status and pages.

`SMTP_CONNECTOR_UPDATE_SCREENSHOTS=1` writes the screenshots into docs/ (docs/service.md shows
docs/admin-page-1280.png and docs/admin-page-375.png; each panel goes to docs/images/admin/);
otherwise they go to the test's tmp dir.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import admin_page_support as support
import httpx
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from admin_page_support import (
    NARROW,
    USER,
    WIDE,
    Served,
    assert_layout,
    choose_app,
    definition,
    make_app,
    server_item,
    sign_in,
)
from browser_support import Traffic
from playwright.sync_api import Page, expect
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer, TestServer, free_port

browser, served, page = support.browser, support.served, support.page  # the fixtures
DOCS = Path(__file__).resolve().parents[2] / "docs"
PANELS = ("apps", "servers", "editor", "preview", "queue")


def queue_messages(served: Served, app_id: str, smtp_port: int, recipients: list[str]) -> None:
    """Queue one sign-in code per recipient, wait until each is final; then one more, with one
    attempt, through a dead port (abandoned, with a last error)."""
    with served.api() as client:
        server_id = client.get(f"/v1/apps/{app_id}/servers").json()[0]["id"]
        ids = [send(client, app_id, to) for to in recipients]
        wait_final(client, ids)
        moved = {"port": free_port(), "password": SMTP_PASSWORD}
        assert client.patch(f"/v1/apps/{app_id}/servers/{server_id}", json=moved).is_success
        wait_final(client, [send(client, app_id, "zoe@example.org", maxAttempts=1)])
        back = {"port": smtp_port, "password": SMTP_PASSWORD}
        assert client.patch(f"/v1/apps/{app_id}/servers/{server_id}", json=back).is_success


def send(client: httpx.Client, app_id: str, to: str, **fields: Any) -> str:
    body = {"to": to, "usageType": "SignIn", "payload": {"code": "482913"}} | fields
    answer = client.post(f"/v1/apps/{app_id}/messages", json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def wait_final(client: httpx.Client, ids: list[str]) -> None:
    deadline = time.monotonic() + 30
    for message_id in ids:
        while client.get(f"/v1/messages/{message_id}").json()["status"] in ("queued", "sending"):
            assert time.monotonic() < deadline
            time.sleep(0.05)


def shop(served: Served, live: TestServer, name: str = "shop") -> str:
    """An app like a real one: a default server that queues, a backup whose check failed."""
    app_id = make_app(
        served, name,
        definition(live.port, name="sendgrid-relay", priority=0, isDefault=True, enqueue=True,
                   fromEmail="noreply@shop.example.com", fromName="Shop"),
        definition(free_port(), name="backup", priority=1, host="backup-relay.mail.example.com"),
    )  # fmt: skip
    with served.api() as client:
        backup = client.get(f"/v1/apps/{app_id}/servers").json()[1]["id"]
        assert client.post(f"/v1/apps/{app_id}/servers/{backup}/check").status_code == 406
    return app_id


def open_gmail_editor(tab: Page) -> None:
    tab.get_by_role("button", name="Add server").click()
    tab.get_by_label("Provider preset").select_option("gmail")
    tab.get_by_label("Username").fill("me@gmail.com")
    tab.get_by_label("From address").fill("news@shop.example.com")
    expect(tab.locator("#f-warnings-summary")).to_contain_text("Guard rails: ")


def test_layout_at_desktop_and_phone_width(
    page: tuple[Page, Traffic], served: Served, make_server: MakeServer, tmp_path: Path
) -> None:
    tab, _ = page
    live = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    app_id = shop(served, live)
    queue_messages(served, app_id, live.port, ["ana@example.org", "bruno@example.net"])
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    rows = tab.locator("#q-recent table.messages tbody tr")
    expect(rows).to_have_count(3)
    expect(tab.locator("#q-summary")).to_contain_text("Engine")
    open_gmail_editor(tab)
    for width in (WIDE, NARROW):
        tab.set_viewport_size({"width": width, "height": 900})
        assert_layout(tab, width)
        headers = tab.locator("table.messages thead th")
        if width == WIDE:  # a table, every column in view
            expect(headers).to_have_count(8)
            headers.first.scroll_into_view_if_needed()
            for index in range(8):
                expect(headers.nth(index)).to_be_in_viewport()
                assert headers.nth(index).bounding_box()["width"] > 20  # type: ignore[index]
        else:  # one card per message, each value under its column's name
            assert rows.first.evaluate("(r) => getComputedStyle(r).display") == "block"
            label = "(td) => getComputedStyle(td, '::before').content"
            assert rows.first.locator("td").nth(5).evaluate(label) == '"Last error"'
        # The editor's heading at the top of the screen: Host and Port are in view below it,
        # the guard rails one line that opens on a click.
        tab.locator("#editor-title").evaluate("(h) => h.scrollIntoView({block: 'start'})")
        expect(tab.get_by_label("Host")).to_be_in_viewport(ratio=1)
        expect(tab.get_by_label("Port")).to_be_in_viewport(ratio=1)
        summary = tab.locator("#f-warnings-summary")
        line = summary.evaluate("(s) => parseFloat(getComputedStyle(s).lineHeight)")
        assert summary.bounding_box()["height"] < 1.6 * line  # type: ignore[index]
        expect(tab.locator("#f-warnings")).to_be_hidden()
        screenshots(tab, width, tmp_path)
    summary.click()
    rails = tab.locator("#f-warnings")
    expect(rails).to_be_visible()
    expect(rails).to_contain_text("Security")  # the form's label, not `secure: false`
    assert "secure:" not in rails.inner_text() and "`" not in rails.inner_text()


def screenshots(tab: Page, width: int, tmp_path: Path) -> None:
    """The whole page in one viewport (Chromium leaves a sandboxed iframe, its own process,
    blank in `full_page` shots below the viewport), and each panel."""
    update = os.environ.get("SMTP_CONNECTOR_UPDATE_SCREENSHOTS") == "1"
    folder, panels = (DOCS, DOCS / "images" / "admin") if update else (tmp_path, tmp_path)
    panels.mkdir(parents=True, exist_ok=True)
    height = tab.evaluate("document.documentElement.scrollHeight")
    tab.set_viewport_size({"width": width, "height": height})
    tab.locator("#announce").evaluate("(node) => node.remove()")  # no stray live text
    shot = folder / f"admin-page-{width}.png"
    tab.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    for panel in PANELS:
        tab.locator(f"#{panel}").screenshot(path=str(panels / f"{panel}-{width}.png"))
    tab.set_viewport_size({"width": width, "height": 900})
    tab.evaluate("document.querySelector('main').append(Object.assign(document.createElement"
                 "('p'), {id: 'announce', className: 'visually-hidden'}))")  # fmt: skip


def test_hint_by_cause_and_a_passing_check_makes_the_error_history(
    page: tuple[Page, Traffic], served: Served, make_server: MakeServer, ca_pem: str
) -> None:
    """A relay whose certificate a private CA issued: the hint is about the certificate (the
    code's hint said "Match Security to the port"), in the form's words; the CA pasted into
    the form's field makes the next check pass, and the stale error becomes history."""
    tab, _ = page
    relay = make_server(mode="implicit", auth_required=True, users={USER: SMTP_PASSWORD})
    app_id = make_app(served, "private-ca", definition(relay.port, name="relay", security="tls"))
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    item = server_item(tab, "relay")
    item.get_by_role("button", name="Check relay").click()
    expect(item.locator(".result")).to_contain_text("Check failed")
    hint = item.locator("dd[id^=last-error] .hint")
    expect(hint).to_contain_text("CA certificate")  # the form's label, not `tlsCa`
    expect(hint).to_contain_text("untick Verify certificate")
    assert "Security" not in hint.inner_text() and "`" not in hint.inner_text()
    expect(item.locator(".error-detail")).to_have_count(1)  # the error is shown once
    assert item.inner_text().count("Hint:") == 1

    item.get_by_role("button", name="Edit relay").click()
    tab.get_by_text("Certificate: a public CA, checked").click()
    tab.get_by_label("CA certificate").fill(ca_pem)
    tab.get_by_label("Password", exact=True).fill(SMTP_PASSWORD)
    tab.get_by_role("button", name="Save server").click()
    expect(tab.locator("#editor")).to_be_hidden()
    item.get_by_role("button", name="Check relay").click()
    expect(item.locator(".result")).to_contain_text("Check passed")
    expect(item.locator(".badge").first).to_have_text("Active")
    expect(item.locator("dt", has_text="Previous error")).to_be_visible()
    expect(item.locator("dt", has_text="Last error")).to_have_count(0)
    expect(item.locator(".hint")).to_have_count(0)  # no advice for what is fixed
    assert relay.messages[-1].rcpt_tos == ["ops@example.org"]


def test_queue_panel_lists_masked_messages_filters_and_pages(
    page: tuple[Page, Traffic], served: Served, make_server: MakeServer
) -> None:
    tab, traffic = page
    live = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    app_id = shop(served, live, "queued-shop")
    other = shop(served, live, "queued-other")
    recipients = [f"user{n:02d}@example.org" for n in range(11)]
    queue_messages(served, app_id, live.port, recipients)
    queue_messages(served, other, live.port, ["someone@example.net"])
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    rows = tab.locator("#q-recent table.messages tbody tr")
    expect(rows).to_have_count(10)  # one page
    expect(rows.first).to_contain_text("z***@example.org")
    expect(rows.first.locator(".badge")).to_have_text("abandoned")
    expect(rows.first).to_contain_text("Could not connect")
    expect(rows.nth(1)).to_contain_text("u***@example.org")
    more = tab.get_by_role("button", name="Older messages")
    more.click()
    expect(rows).to_have_count(12)
    expect(more).to_be_hidden()
    counts = tab.locator("#q-summary table.counts")
    expect(counts.locator("tr", has_text="sent")).to_contain_text("11")  # this app's only
    expect(counts.locator("tr", has_text="abandoned")).to_contain_text("1")

    tab.get_by_label("Show messages").select_option("abandoned")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("z***@example.org")
    tab.get_by_label("Show messages").select_option("sent")
    expect(rows).to_have_count(10)
    expect(tab.locator("#q-recent")).not_to_contain_text("abandoned")

    html = tab.content()
    for address in [*recipients, "zoe@example.org", "someone@example.net"]:
        assert address not in html  # masked, and no other app's message
    for response in traffic.responses:
        if "/messages?" in response.url:
            assert b"user00@example.org" not in response.body()


def test_an_app_without_servers_previews_the_shipped_template_and_says_so(
    page: tuple[Page, Traffic], served: Served
) -> None:
    tab, _ = page
    app_id = make_app(served, "empty-app")
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    expect(tab.locator("#p-note")).to_contain_text("empty-app has no active server yet")
    expect(tab.locator("#p-subject")).to_contain_text("123456")
    expect(tab.locator("#p-from")).to_have_text("—")
    expect(tab.locator("#q-recent")).to_contain_text("No queued messages")
