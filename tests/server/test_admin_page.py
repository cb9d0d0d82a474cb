"""The admin page in a real browser: Debian's Chromium driven by Playwright, against a real
`smtp-connector serve` process with keys made by the CLI, and real aiosmtpd servers.

What a person does is what the tests do (sign in, pick a preset, add a server, Check, send a
test email, reorder, preview); what they assert is what the SMTP server received and what the
page shows. The password and the API key must never reach the page: the tests search the whole
DOM and every response the page received. Screenshots at 1280 and 375 px are saved in the
test's tmp dir.
"""

from __future__ import annotations

import re
from typing import Any

import admin_page_support as support
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from admin_page_support import (
    USER,
    Served,
    choose_app,
    definition,
    make_app,
    server_item,
    sign_in,
)
from browser_support import CONTRAST_BELOW_AA, Traffic, assert_no_secret
from playwright.sync_api import Page, expect
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer, dead_port, free_port

browser, served, page = support.browser, support.served, support.page  # the fixtures


def test_add_check_and_send_through_live_server(
    page: tuple[Page, Traffic], served: Served, make_server: MakeServer
) -> None:
    tab, traffic = page
    live = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    sign_in(tab, served.admin)
    if tab.locator("#app-create").get_attribute("open") is None:
        tab.get_by_text("New app").click()
    tab.get_by_label("Name", exact=True).fill("flow")
    tab.get_by_label("Test address", exact=True).fill("ops@example.org")
    tab.get_by_role("button", name="Create app").click()
    expect(tab.locator("#app-test-view")).to_contain_text("ops@example.org")

    tab.get_by_role("button", name="Add server").click()
    expect(tab.get_by_role("heading", name="Add server")).to_be_focused()
    preset, host = tab.get_by_label("Provider preset"), tab.get_by_label("Host")
    port, security = tab.get_by_label("Port"), tab.get_by_label("Security")
    username, sender = tab.get_by_label("Username"), tab.get_by_label("From address")
    warnings = tab.locator("#f-warnings")
    preset.select_option("sendgrid")
    expect(host).to_have_value("smtp.sendgrid.net")
    expect(port).to_have_value("587")
    expect(security).to_have_value("starttls")
    expect(username).to_have_value("apikey")
    expect(tab.locator("#f-preset-help")).to_contain_text("Mail Send permission")
    preset.select_option("gmail")
    expect(host).to_have_value("smtp.gmail.com")
    expect(port).to_have_value("465")
    expect(security).to_have_value("tls")
    username.fill("me@gmail.com")
    sender.fill("news@shop.example")
    expect(warnings.locator('[data-code="from_rewritten"]')).to_contain_text("rewrite")
    preset.select_option("aliyun")
    expect(host).to_have_value("smtpdm.aliyun.com")
    tab.get_by_label("Region").select_option("ap-southeast-1")
    expect(host).to_have_value("smtpdm-ap-southeast-1.aliyuncs.com")
    username.fill("sender@mail.shop.example")
    rule = warnings.locator('.error[data-code="from_must_equal_user"]')
    expect(rule).to_contain_text("exactly the SMTP username")

    preset.select_option("")
    expect(tab.locator("#f-warnings-box")).to_be_hidden()
    tab.get_by_label("Name (optional)").fill("primary")
    host.fill("127.0.0.1")
    port.fill(str(live.port))
    security.select_option("none")
    username.fill(USER)
    tab.get_by_label("Password", exact=True).fill(SMTP_PASSWORD)
    sender.fill("noreply@example.com")
    tab.get_by_label("Status").select_option("disabled")
    tab.get_by_role("button", name="Save server").click()
    item = server_item(tab, "primary")
    badge = item.locator(".badge").first
    expect(badge).to_have_text("Disabled")
    expect(tab.locator("#editor")).to_be_hidden()

    item.get_by_role("button", name="Edit primary").click()
    password = tab.get_by_label("Password", exact=True)
    expect(password).to_have_attribute("placeholder", "stored")
    expect(password).to_have_value("")
    tab.get_by_role("button", name="Cancel").click()

    item.get_by_role("button", name="Check primary").click()
    expect(item.locator(".result")).to_contain_text("Check passed")
    expect(badge).to_have_text("Active")
    assert live.messages[-1].rcpt_tos == ["ops@example.org"]
    assert live.messages[-1].auth_login == USER.encode()

    item.get_by_role("button", name="Send test email through primary").click()
    recipient = item.get_by_label("Recipient")
    expect(recipient).to_be_focused()
    expect(recipient).to_have_value("ops@example.org")
    recipient.fill("someone@example.org")
    item.get_by_role("button", name="Send", exact=True).click()
    expect(item.locator(".result")).to_contain_text("accepted")
    assert live.messages[-1].rcpt_tos == ["someone@example.org"]
    assert b"000000" in live.messages[-1].content  # the Generic test message's code

    dead = dead_port()
    item.get_by_role("button", name="Edit primary").click()
    port.fill(str(dead))
    tab.get_by_role("button", name="Save server").click()
    expect(tab.locator("#f-error")).to_contain_text("needs the password again")
    password.fill(SMTP_PASSWORD)
    tab.get_by_role("button", name="Save server").click()
    expect(tab.locator("#editor")).to_be_hidden()
    expect(item).to_contain_text(f"127.0.0.1:{dead}")
    item.get_by_role("button", name="Check primary").click()
    expect(badge).to_have_text("Disabled")
    result = item.locator(".result")
    expect(result).to_contain_text("Check failed")
    expect(result).to_contain_text("connection_failed")
    last_error = item.locator("dd[id^=last-error]")
    expect(last_error).to_contain_text("Could not connect")
    expect(last_error).to_contain_text("Hint: Check Host and Port")
    expect(item.locator("dd[id^=errors]")).to_have_text("1")
    assert_no_secret(tab, traffic, SMTP_PASSWORD, served.admin)


def test_reorder_priorities(page: tuple[Page, Traffic], served: Served) -> None:
    tab, _ = page
    app_id = make_app(served, "order", definition(free_port(), name="first", priority=10),
                      definition(free_port(), name="second", priority=10))  # fmt: skip
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    headings = tab.locator("#server-list h3")
    expect(headings).to_have_text([re.compile("first"), re.compile("second")])
    tab.get_by_role("button", name="Move up: second").click()
    expect(headings).to_have_text([re.compile("second"), re.compile("first")])
    expect(tab.get_by_role("button", name="Move down: second")).to_be_focused()
    with served.api() as client:
        stored = client.get(f"/v1/apps/{app_id}/servers").json()
    assert [(d["name"], d["priority"]) for d in stored] == [("second", 0), ("first", 1)]


def test_template_preview_in_two_locales(page: tuple[Page, Traffic], served: Served) -> None:
    tab, _ = page
    sign_in(tab, served.admin)
    iframe = tab.locator("#p-html")
    assert iframe.get_attribute("sandbox") == ""  # no allow-scripts, no same origin
    tab.get_by_label("Sample code").fill("482913")
    tab.get_by_label("Usage type").select_option("SignIn")
    tab.get_by_label("Locale").select_option("es")
    subject = tab.locator("#p-subject")
    expect(subject).to_contain_text("código")
    expect(subject).to_contain_text("482913")
    body = tab.frame_locator("#p-html").locator("body")
    expect(body).to_contain_text("482913")
    expect(body).to_contain_text("inicio de sesión")
    expect(tab.locator("#p-text")).to_contain_text("482913")
    tab.get_by_label("Locale").select_option("de")
    expect(subject).to_contain_text("Anmeldecode")
    expect(body).to_contain_text("Anmeldecode")
    expect(tab.locator("#p-text")).to_contain_text("Anmeldecode")
    expect(tab.locator("#p-locale-used")).to_have_text("de")


def test_read_only_key_sees_no_edit_controls(page: tuple[Page, Traffic], served: Served) -> None:
    tab, traffic = page
    app_id = make_app(served, "readonly", definition(free_port(), name="relay"))
    sign_in(tab, served.reader)
    choose_app(tab, app_id)
    expect(tab.locator("#mode")).to_have_text("read-only")
    item = server_item(tab, "relay")
    expect(item.locator(".badge").first).to_have_text("Active")
    expect(item).to_contain_text("Password")
    edit = re.compile(r"^(Add server|Check|Send test|Edit|Move|Delete|Create app|Save)")
    assert tab.get_by_role("button", name=edit).count() == 0
    for gone in ("#editor", "#add-server", "#app-create", "#app-test-form", "#f-password"):
        assert tab.locator(gone).count() == 0, gone
    expect(tab.locator("#p-subject")).not_to_be_empty()  # reading still works
    expect(tab.locator("#p-from")).to_have_text("noreply@example.com")  # the app's sender
    assert_no_secret(tab, traffic, SMTP_PASSWORD, served.reader)


def test_keyboard_labels_and_focus(page: tuple[Page, Traffic], served: Served) -> None:
    tab, _ = page
    make_app(served, "keyboard")
    tab.goto("/")
    expect(tab.get_by_label("API key")).to_be_focused()
    tab.keyboard.type(served.admin)
    tab.keyboard.press("Enter")
    expect(tab.locator("#workspace")).to_be_visible()
    reached = []
    for _ in range(40):
        tab.keyboard.press("Tab")
        reached.append(tab.evaluate("document.activeElement.id"))
        if reached[-1] == "add-server":
            break
    assert reached[-1] == "add-server", reached
    outline = tab.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    tab.keyboard.press("Enter")
    expect(tab.get_by_role("heading", name="Add server")).to_be_focused()
    tab.keyboard.press("Tab")
    expect(tab.get_by_label("Provider preset")).to_be_focused()
    tab.keyboard.press("Escape")
    expect(tab.locator("#editor")).to_be_hidden()
    expect(tab.get_by_role("button", name="Add server")).to_be_focused()
    unlabelled = tab.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button, iframe')]
             .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                            && !c.getAttribute('title') && !(c.tagName === 'BUTTON'
                            && c.textContent.trim()))
             .map((c) => c.id || c.outerHTML)"""
    )
    assert unlabelled == []
    # A button's spoken name contains what it shows ("Check primary" for "Check").
    mismatched = tab.evaluate(
        """() => [...document.querySelectorAll('button[aria-label]')]
             .filter((b) => !b.getAttribute('aria-label').includes(b.textContent.trim()))
             .map((b) => b.id)"""
    )
    assert mismatched == []


def test_text_contrast(page: tuple[Page, Traffic], served: Served) -> None:
    """Every visible text on the page, badges, errors and hints included, is at least 4.5:1
    against its background (3:1 for large text), as WCAG 2 AA asks."""
    tab, _ = page
    app_id = make_app(served, "contrast", definition(free_port(), name="down", isDefault=True))
    with served.api() as client:
        server_id = client.get(f"/v1/apps/{app_id}/servers").json()[0]["id"]
        client.post(f"/v1/apps/{app_id}/servers/{server_id}/check")  # a last error to show
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    expect(server_item(tab, "down")).to_contain_text("Hint:")
    low = tab.evaluate(CONTRAST_BELOW_AA)
    assert low == [], low


def test_key_stays_in_the_tab_and_the_page_refreshes(
    page: tuple[Page, Traffic], served: Served, browser: Any
) -> None:
    tab, traffic = page
    app_id = make_app(served, "refresh", definition(free_port(), name="one"))
    sign_in(tab, served.admin, "/?refresh=2")
    choose_app(tab, app_id)
    assert tab.context.cookies() == []  # no cookie holds the key
    assert tab.evaluate("sessionStorage.getItem('smtp-connector.api-key')") == served.admin
    with served.api() as client:
        client.post(f"/v1/apps/{app_id}/servers", json=definition(free_port(), name="two"))
    expect(server_item(tab, "two")).to_be_visible(timeout=15_000)  # no reload, no click

    other = browser.new_context(base_url=served.process.base_url).new_page()
    other.goto("/")
    expect(other.get_by_label("API key")).to_be_visible()  # another tab is not signed in
    other.context.close()

    queue = [r for r in traffic.responses if "/v1/queue?appId=" in r.url]
    assert queue and all(r.status == 200 for r in queue)  # serve runs the queue (issue 15)
    expect(tab.locator("#queue")).to_be_visible()
    expect(tab.locator("#queue").get_by_text("Messages by status")).to_be_visible()

    tab.get_by_role("button", name="Sign out").click()
    expect(tab.get_by_label("API key")).to_be_visible()
    assert tab.evaluate("sessionStorage.length") == 0


def test_delete_asks_first_and_removes_the_stored_definition(
    page: tuple[Page, Traffic], served: Served
) -> None:
    tab, _ = page
    app_id = make_app(served, "delete", definition(free_port(), name="keep"),
                      definition(free_port(), name="doomed"))  # fmt: skip
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    headings = tab.locator("#server-list h3")
    expect(headings).to_have_count(2)
    tab.once("dialog", lambda dialog: dialog.dismiss())  # "Cancel": nothing happens
    tab.get_by_role("button", name="Delete doomed").click()
    expect(headings).to_have_count(2)
    with served.api() as client:
        assert len(client.get(f"/v1/apps/{app_id}/servers").json()) == 2
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.get_by_role("button", name="Delete doomed").click()
    expect(headings).to_have_text([re.compile("keep")])
    with served.api() as client:
        stored = client.get(f"/v1/apps/{app_id}/servers").json()
    assert [d["name"] for d in stored] == ["keep"]


def test_a_new_apps_reload_does_not_take_the_focus_from_the_editor(
    page: tuple[Page, Traffic], served: Served
) -> None:
    """Creating an app reloads the apps and their servers, then puts the focus on the app
    picker, unless the person has moved on meanwhile: the server editor they opened keeps
    it. (The reload came back after the editor had opened in 2 of 3 CI runs of the test
    above, which then failed.) The server list is held back 1.5 s by the browser, so the
    editor opens before it has come back, every time."""
    tab, _ = page
    sign_in(tab, served.admin)
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)
        tab.wait_for_timeout(1500)
        route.continue_()

    tab.route(re.compile(r".*/v1/apps/[^/]+/servers\?limit=500$"), hold)
    if tab.locator("#app-create").get_attribute("open") is None:
        tab.get_by_text("New app").click()
    tab.get_by_label("Name", exact=True).fill("focus")
    tab.get_by_role("button", name="Create app").click()
    expect(tab.get_by_role("button", name="Add server")).to_be_enabled()
    tab.get_by_role("button", name="Add server").click()
    title = tab.get_by_role("heading", name="Add server")
    expect(title).to_be_focused()
    expect(tab.get_by_role("status").first).to_contain_text("App focus created", timeout=30_000)
    assert held, "the reload's server list was not held back: the test proved nothing"
    expect(title).to_be_focused()
