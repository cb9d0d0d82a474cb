"""The admin page's template editor (issue 24 §6) in Chromium against a real `serve` and a real
aiosmtpd server: the usage type × language grid with the level each template comes from, the
editor with its live preview (through the preview route, in the sandboxed iframe), a syntax
error shown before saving, save, history and revert, a test send of the unsaved edit (what the SMTP
server received), a read-only key that can look but not change; the layout at 1280 and 375 px.
"""

from __future__ import annotations

import email
import os
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import admin_page_support as support
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
    sign_in,
)
from browser_support import Traffic
from playwright.sync_api import Page, expect
from service_support import SMTP_PASSWORD
from smtp_servers import MakeServer

browser, served, page = support.browser, support.served, support.page  # the fixtures
DOCS = Path(__file__).resolve().parents[2] / "docs" / "images" / "admin"
SUBJECT = "Dein Code {{code}} für {{application.name}}"
CONTENT = "<p>Hallo!</p><p>Dein Code: <b>{{code}}</b></p>"
SHOP = {"fromName": "Shop", "fromEmail": "noreply@shop.example.com"}


def stored(served: Served, app_id: str, path: str) -> Any:
    with served.api() as client:
        return client.get(f"/v1/apps/{app_id}/templates/{path}").json()


def open_cell(tab: Page, verb: str, usage: str, tag: str) -> None:
    tab.get_by_role("button", name=f"{verb} {usage} in {tag}:").click()
    expect(tab.locator("#t-editor")).to_be_visible()


def test_edit_preview_save_revert_and_test_send(
    page: tuple[Page, Traffic], served: Served, make_server: MakeServer
) -> None:
    tab, _ = page
    live = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    app_id = make_app(served, "tpl-shop", definition(live.port, name="relay", **SHOP))
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    tab.get_by_label("Languages shown").fill("en de")
    tab.get_by_role("button", name="Show", exact=True).click()
    cell = tab.locator("#tpl-SignIn-de")
    expect(cell).to_have_text("shipped")
    expect(tab.locator("#tpl-Register-en")).to_have_text("shipped")

    open_cell(tab, "Edit", "SignIn", "de")
    expect(tab.locator("#t-editor-title")).to_contain_text("none of the app's own yet")
    subject = tab.locator("#t-preview-subject")
    expect(subject).to_contain_text("Anmeldecode")  # the shipped German template, as sent now
    frame = tab.frame_locator("#t-preview-html").locator("body")

    tab.get_by_label("Subject").fill(SUBJECT)
    tab.get_by_label("Content", exact=True).fill(CONTENT)
    expect(subject).to_have_text("Dein Code 123456 für Shop")  # live, as typed
    expect(frame).to_contain_text("Dein Code: 123456")
    expect(tab.locator("#t-preview-from")).to_contain_text("noreply@shop.example.com")
    expect(tab.locator("#t-preview-state")).to_contain_text("this edit")

    tab.get_by_label("Content", exact=True).fill("<p>{{code</p>")  # a syntax error
    error = tab.locator("#t-preview-error")
    expect(error).to_contain_text("template_error")
    expect(subject).to_have_text("Dein Code 123456 für Shop")  # the last good preview stays
    tab.get_by_role("button", name="Save template").click()
    expect(tab.locator("#t-error")).to_contain_text("template_error")  # refused, not stored
    assert stored(served, app_id, "SignIn/de")["error"]["code"] == "not_found"

    tab.get_by_label("Content", exact=True).fill(CONTENT)
    expect(error).to_be_empty()
    tab.get_by_role("button", name="Save template").click()
    expect(cell).to_have_text("app")
    expect(tab.locator("#t-editor-title")).to_contain_text("version 1")
    assert stored(served, app_id, "SignIn/de")["subject"] == SUBJECT
    tab.get_by_label("Subject").fill("Zweiter Betreff {{code}}")
    tab.get_by_role("button", name="Save template").click()
    expect(tab.locator("#t-editor-title")).to_contain_text("version 2")

    tab.get_by_text("History").click()
    expect(tab.locator("#t-history li")).to_have_count(2)
    tab.get_by_role("button", name="Revert to version 1").click()
    expect(tab.get_by_label("Subject")).to_have_value(SUBJECT)
    expect(tab.locator("#t-editor-title")).to_contain_text("version 3")
    assert stored(served, app_id, "SignIn/de")["subject"] == SUBJECT

    tab.get_by_label("Subject").fill("Test: {{code}} für {{application.name}}")
    tab.get_by_label("Test send to").fill("someone@example.org")
    tab.get_by_role("button", name="Send test", exact=True).click()
    expect(tab.locator("#t-test-result")).to_contain_text("Sent to someone@example.org")
    mail = email.message_from_bytes(live.messages[-1].content, policy=default_policy)
    assert live.messages[-1].rcpt_tos == ["someone@example.org"]
    assert mail["Subject"] == "Test: 123456 für Shop"  # the edit as typed ...
    assert "Dein Code: <b>123456</b>" in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert stored(served, app_id, "SignIn/de")["version"] == 3  # ... and not saved


def test_a_template_cannot_script_the_page(
    page: tuple[Page, Traffic], served: Served, make_server: MakeServer
) -> None:
    tab, _ = page
    live = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    app_id = make_app(served, "tpl-script", definition(live.port, name="relay"))
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    open_cell(tab, "Edit", "SignIn", "en")
    title = tab.title()
    tab.get_by_label("Subject").fill("Code {{code}}")
    script = (
        "<script>parent.document.title = 'owned'</script>"
        "<img src=x onerror=\"parent.document.title = 'owned'\"><p>{{code}}</p>"
    )
    tab.get_by_label("Content", exact=True).fill(script)
    expect(tab.frame_locator("#t-preview-html").locator("body")).to_contain_text("123456")
    assert tab.locator("#t-preview-html").get_attribute("sandbox") == ""
    assert tab.title() == title


def test_read_only_key_sees_the_grid_and_the_templates_but_cannot_change_them(
    page: tuple[Page, Traffic], served: Served, make_server: MakeServer
) -> None:
    tab, _ = page
    live = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    app_id = make_app(served, "tpl-read", definition(live.port, name="relay"))
    with served.api() as client:
        saved = {"subject": "Own {{code}}", "content": "<p>Own {{code}}</p>"}
        assert client.put(f"/v1/apps/{app_id}/templates/SignIn/en", json=saved).status_code == 201
    sign_in(tab, served.reader)
    choose_app(tab, app_id)
    expect(tab.locator("#tpl-SignIn-en")).to_have_text("app")
    open_cell(tab, "View", "SignIn", "en")
    expect(tab.get_by_label("Subject")).to_have_value("Own {{code}}")
    expect(tab.get_by_label("Subject")).not_to_be_editable()
    for gone in ("#t-save", "#t-delete", "#t-test", "#t-test-to"):
        assert tab.locator(gone).count() == 0, gone
    expect(tab.locator("#t-preview-subject")).to_have_text("Own 123456")


def test_editor_layout_at_desktop_and_phone_width(
    page: tuple[Page, Traffic], served: Served, make_server: MakeServer, tmp_path: Path
) -> None:
    tab, _ = page
    live = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    app_id = make_app(served, "tpl-layout", definition(live.port, name="relay", **SHOP))
    with served.api() as client:
        saved = {"subject": "Dein Code {{code}}", "content": CONTENT}
        client.put(f"/v1/apps/{app_id}/templates/SignIn/de", json=saved).raise_for_status()
        client.patch(f"/v1/apps/{app_id}", json={"defaultLocale": "de"}).raise_for_status()
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    tab.get_by_label("Languages shown").fill("de en pt-BR")
    tab.get_by_role("button", name="Show", exact=True).click()
    expect(tab.locator("#tpl-SignIn-de")).to_have_text("app")
    expect(tab.locator("#tpl-SignIn-en")).to_have_text("default language")  # de, the default
    open_cell(tab, "Edit", "SignIn", "en")
    expect(tab.locator("#t-preview-subject")).to_have_text("Dein Code 123456")
    update = os.environ.get("SMTP_CONNECTOR_UPDATE_SCREENSHOTS") == "1"
    folder = DOCS if update else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    for width in (WIDE, NARROW):
        tab.set_viewport_size({"width": width, "height": 900})
        assert_layout(tab, width)
        rows = tab.locator("table.tpl-grid tbody tr")
        display = rows.first.evaluate("(r) => getComputedStyle(r).display")
        assert display == ("table-row" if width == WIDE else "block")
        tab.locator("#t-editor-title").evaluate("(h) => h.scrollIntoView({block: 'start'})")
        expect(tab.get_by_label("Subject")).to_be_in_viewport(ratio=1)
        height = tab.evaluate("document.documentElement.scrollHeight")
        tab.set_viewport_size({"width": width, "height": height})
        tab.locator("#templates").screenshot(path=str(folder / f"templates-{width}.png"))


def test_keyboard_open_close_and_delete(
    page: tuple[Page, Traffic], served: Served, make_server: MakeServer
) -> None:
    tab, _ = page
    live = make_server(auth_required=True, users={USER: SMTP_PASSWORD})
    app_id = make_app(served, "tpl-keys", definition(live.port, name="relay", **SHOP))
    with served.api() as client:
        saved = {"subject": "Own {{code}}", "content": "<p>Own {{code}}</p>"}
        assert client.put(f"/v1/apps/{app_id}/templates/Register/en", json=saved).is_success
    sign_in(tab, served.admin)
    choose_app(tab, app_id)
    cell = tab.locator("#tpl-Register-en")
    expect(cell).to_have_text("app")
    cell.focus()
    tab.keyboard.press("Enter")
    expect(tab.locator("#t-editor-title")).to_be_focused()
    expect(tab.get_by_label("Subject")).to_have_value("Own {{code}}")
    tab.keyboard.press("Escape")
    expect(tab.locator("#t-editor")).to_be_hidden()
    expect(cell).to_be_focused()  # back where the person was

    tab.keyboard.press("Enter")
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.get_by_role("button", name="Delete template").click()
    expect(cell).to_have_text("shipped")
    expect(tab.locator("#t-editor-title")).to_contain_text("none of the app's own yet")
    assert stored(served, app_id, "Register/en")["error"]["code"] == "not_found"
