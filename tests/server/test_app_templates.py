"""Templates per app (issue 24) against a real `serve` and a separate `worker`, on SQLite and on
PostgreSQL: every native route, the chain case by case with the mail the SMTP server received,
a stored template used by a direct and a queued send, history and revert, and the app's
deletion taking its templates along."""

from __future__ import annotations

import asyncio
import time

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from sqlalchemy import func, select
from template_serve import Served, parts_of, subject_of

from smtp_connector.store.database import Database
from smtp_connector.store.tables import AppTemplateHistoryRow, AppTemplateRow

HTML = "<p>Your code is <b>{{code}}</b></p>"


def details(subject: str, **more: object) -> dict[str, object]:
    return {"subject": subject, "content": HTML} | more


def test_routes_round_trip(served: Served) -> None:
    with served.client() as client:
        app = served.new_app(client)
        base = f"/v1/apps/{app}/templates"
        made = client.put(f"{base}/SignIn/pt-BR", json=details("Código {{code}}"))
        assert made.status_code == 201, made.text
        first = made.json()
        assert (first["usageType"], first["locale"], first["version"]) == ("SignIn", "pt-BR", 1)
        assert first["contentType"] == "text/html" and first["warnings"] == []
        assert first["updatedBy"].startswith("key:") and first["appId"] == app

        replaced = client.put(f"{base}/SignIn/PT-br", json=details("Seu código {{code}}"))
        assert replaced.status_code == 200, replaced.text  # tags match case-insensitively
        assert (replaced.json()["id"], replaced.json()["version"]) == (first["id"], 2)
        got = client.get(f"{base}/SignIn/pt-br").json()
        assert got["subject"] == "Seu código {{code}}" and got["version"] == 2

        for usage, tag in (("Register", "en"), ("Generic", "fr"), ("BindMfa", "fr")):
            assert (
                client.put(f"{base}/{usage}/{tag}", json=details("x {{code}}")).status_code == 201
            )
        listed = client.get(base).json()
        assert [(t["usageType"], t["locale"]) for t in listed] == [
            ("BindMfa", "fr"), ("Generic", "fr"), ("Register", "en"), ("SignIn", "PT-br"),
        ]  # fmt: skip
        assert [t["usageType"] for t in client.get(base, params={"locale": "FR"}).json()] == [
            "BindMfa", "Generic",
        ]  # fmt: skip
        assert len(client.get(base, params={"usageType": "SignIn"}).json()) == 1

        page = client.get(base, params={"limit": 3})
        assert len(page.json()) == 3 and 'rel="next"' in page.headers["link"]
        following = client.get(page.headers["link"].split(">")[0].lstrip("<"))
        assert [t["usageType"] for t in following.json()] == ["SignIn"]
        assert "link" not in following.headers

        assert client.delete(f"{base}/Register/en").status_code == 204
        gone = client.get(f"{base}/Register/en")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        assert client.delete(f"{base}/Register/en").status_code == 404
        assert client.get("/v1/templates").status_code == 200  # the shipped preview stays

        levels = client.get(
            f"{base}/levels", params={"usageType": ["SignIn"], "locale": ["pt-BR", "de"]}
        )
        assert [(c["locale"], c["level"]) for c in levels.json()] == [
            ("pt-BR", "app"), ("de", "shipped"),
        ]  # fmt: skip


def test_the_chain_case_by_case_in_what_is_sent(served: Served) -> None:
    """(1) exact, (1) language of a regional tag, (2) the app's default language, (4) shipped
    in the requested language, (5) shipped English, Generic for a custom type; the preview
    names the same level the send used. Another app gets none of these templates."""
    with served.client() as client:
        app = served.new_app(client, defaultLocale="de")
        served.add_server(client, app)
        base = f"/v1/apps/{app}/templates"
        for usage, tag, subject in (
            ("SignIn", "fr", "exact-fr"), ("SignIn", "de", "default-de"),
            ("Register", "en", "lang-en"), ("Generic", "de", "generic-de"),
        ):  # fmt: skip
            assert client.put(f"{base}/{usage}/{tag}", json=details(subject)).status_code == 201
        other = served.new_app(client)  # no defaultLocale, no templates
        served.add_server(client, other)

        cases = [  # (app, usage, locale, level, subject or a shipped word)
            (app, "SignIn", "fr", "app", "exact-fr"),
            (app, "Register", "en-US", "app", "lang-en"),
            (app, "SignIn", "es", "defaultLocale", "default-de"),
            (app, "ForgotPassword", "es", "shipped", "contraseña"),
            (other, "ForgotPassword", "xx", "shipped", "password"),
            (other, "SignIn", "fr", "shipped", "connexion"),  # not the other app's exact-fr
        ]
        for n, (which, usage, locale, level, expected) in enumerate(cases):
            preview = client.post(f"/v1/apps/{which}/templates/preview",
                                  json={"usageType": usage, "locale": locale})  # fmt: skip
            assert preview.status_code == 200, preview.text
            assert preview.json()["level"] == level, (usage, locale, preview.json())
            to = f"chain{n}-{which}@example.org"
            sent = client.post(
                f"/v1/apps/{which}/messages",
                json={
                    "to": to,
                    "usageType": usage,
                    "locale": locale,
                    "payload": {"code": "246810"},
                },
            )
            assert sent.status_code == 200, sent.text
            subject = subject_of(served.mail_to(to))
            assert expected.lower() in subject.lower(), (usage, locale, subject)
            assert subject == preview.json()["subject"].replace("123456", "246810")

        # A custom usage type with nothing of its own: the send is refused (a misspelling is
        # likelier), the preview shows the Generic fill-in; once stored, it is used.
        custom = {"to": "custom@example.org", "usageType": "WelcomeBack", "payload": {"code": "1"}}
        refused = client.post(f"/v1/apps/{app}/messages", json=custom)
        assert refused.status_code == 422, refused.text
        fill_in = client.post(f"{base}/preview", json={"usageType": "WelcomeBack", "locale": "it"})
        assert (fill_in.json()["usageType"], fill_in.json()["level"]) == (
            "Generic",
            "defaultLocale",
        )
        assert fill_in.json()["subject"] == "generic-de"
        client.put(f"{base}/WelcomeBack/de", json=details("welcome-back"))
        assert client.post(f"/v1/apps/{app}/messages", json=custom).status_code == 200
        assert subject_of(served.mail_to("custom@example.org")) == "welcome-back"


def test_a_stored_template_in_direct_and_queued_sends(served: Served) -> None:
    """Direct through serve, queued through the separate worker process, which reads the
    app's templates version from the database: an edit saved just before the send is used."""
    with served.client() as client:
        app = served.new_app(client)
        server = served.add_server(client, app, fromEmail=None)  # the app's sender
        path = f"/v1/apps/{app}/templates/SignIn/en"
        text = "Plain {{code}} for {{application.name}}"
        client.put(
            path,
            json=details(
                "Direct {{code}}",
                replyTo="help@shop.example.com",
                sendFrom="Shop <hello@shop.example.com>",
                text=text,
            ),
        )
        sent = client.post(
            f"/v1/apps/{app}/messages",
            json={"to": "direct@example.org", "usageType": "SignIn", "payload": {"code": "111222"}},
        )
        assert sent.status_code == 200, sent.text
        mail = served.mail_to("direct@example.org")
        assert subject_of(mail) == "Direct 111222"
        assert mail["Reply-To"] == "help@shop.example.com"
        assert "hello@shop.example.com" in mail["From"]
        parts = parts_of(mail)
        assert "<b>111222</b>" in parts["text/html"]
        assert parts["text/plain"].strip() == "Plain 111222 for shop.example.com"

        queued = client.patch(f"/v1/apps/{app}/servers/{server}", json={"enqueue": True})
        assert queued.status_code == 200
        for n, subject in enumerate(("Queued one {{code}}", "Queued two {{code}}")):
            assert client.put(path, json=details(subject)).status_code == 200
            to = f"queued{n}@example.org"
            accepted = client.post(
                f"/v1/apps/{app}/messages",
                json={"to": to, "usageType": "SignIn", "payload": {"code": f"33344{n}"}},
            )
            assert accepted.status_code == 202, accepted.text
            assert subject_of(served.mail_to(to)) == subject.replace("{{code}}", f"33344{n}")


def test_a_test_send_of_an_unsaved_edit(served: Served) -> None:
    """The editor's test send: the edit goes out through the app's definitions as a send would
    render it, the stored template stays as it was; a bad recipient is refused before."""
    with served.client() as client:
        app = served.new_app(client)
        path = f"/v1/apps/{app}/templates"
        assert client.post(f"{path}/test", json={"to": "t@example.org"}).status_code == 409
        served.add_server(client, app)
        client.put(f"{path}/SignIn/en", json=details("Stored {{code}}"))
        edit = {"subject": "Edited {{code}}", "content": "<p>{{code}} for {{user.name}}</p>"}
        sent = client.post(f"{path}/test", json={
            "to": "tester@example.org", "usageType": "SignIn", "locale": "en", "template": edit,
            "payload": {"code": "909090", "user": {"name": "Ana <b>"}}})  # fmt: skip
        assert sent.status_code == 200, sent.text
        assert sent.json()["ok"] and sent.json()["messageId"]
        mail = served.mail_to("tester@example.org")
        assert subject_of(mail) == "Edited 909090"
        assert "909090 for Ana &lt;b&gt;" in parts_of(mail)["text/html"]  # escaped as a send
        assert client.get(f"{path}/SignIn/en").json()["subject"] == "Stored {{code}}"
        bad = client.post(f"{path}/test", json={"to": "not-an-address", "usageType": "SignIn"})
        assert bad.status_code in (400, 422) and bad.json()["error"]["code"] == "invalid_recipient"


def test_history_keeps_twenty_and_revert_saves_an_old_version_anew(served: Served) -> None:
    with served.client() as client:
        app = served.new_app(client)
        path = f"/v1/apps/{app}/templates/MfaVerification/en"
        for n in range(1, 22):
            saved = client.put(path, json=details(f"v{n} {{{{code}}}}"))
            assert saved.status_code == (201 if n == 1 else 200), saved.text
        history = client.get(f"{path}/history").json()
        assert [entry["version"] for entry in history] == list(range(21, 1, -1))
        assert history[0]["subject"] == "v21 {{code}}" and history[-1]["subject"] == "v2 {{code}}"
        assert history[0]["changedBy"].startswith("key:") and history[0]["action"] == "saved"

        reverted = client.post(f"{path}/revert", json={"version": 5})
        assert reverted.status_code == 200, reverted.text
        assert (reverted.json()["version"], reverted.json()["subject"]) == (22, "v5 {{code}}")
        assert client.get(path).json()["subject"] == "v5 {{code}}"
        newest = client.get(f"{path}/history").json()
        assert (newest[0]["version"], newest[0]["action"], len(newest)) == (22, "reverted", 20)

        trimmed = client.post(f"{path}/revert", json={"version": 2})  # dropped by the 22nd
        assert trimmed.status_code == 404 and "history" in trimmed.json()["error"]["message"]
        assert client.post(f"{path}/revert", json={"version": 0}).status_code == 422

        assert client.delete(path).status_code == 204  # its history goes with it
        assert client.get(f"{path}/history").status_code == 404
        again = client.put(path, json=details("fresh {{code}}")).json()
        assert again["version"] == 1


def test_deleting_the_app_deletes_its_templates_and_history(served: Served) -> None:
    with served.client() as client:
        app = served.new_app(client)
        for tag in ("en", "de"):
            client.put(f"/v1/apps/{app}/templates/SignIn/{tag}", json=details("x {{code}}"))
        assert asyncio.run(_rows(served.url, app)) == (2, 2)
        assert client.delete(f"/v1/apps/{app}").status_code == 204
    deadline = time.monotonic() + 30  # a limit for a loaded machine, not a speed claim
    while asyncio.run(_rows(served.url, app)) != (0, 0):
        assert time.monotonic() < deadline
        time.sleep(0.05)


async def _rows(url: str, app: str) -> tuple[int, int]:
    database = Database(url)
    try:
        async with database.transaction() as session:
            counts = []
            for table in (AppTemplateRow, AppTemplateHistoryRow):
                query = select(func.count()).select_from(table).where(table.app_id == app)
                counts.append(int(await session.scalar(query) or 0))
            return counts[0], counts[1]
    finally:
        await database.dispose()
