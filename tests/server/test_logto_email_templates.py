"""Logto's email-templates Management API (`/api/email-templates`) against a real
`smtp-connector serve`, on SQLite and PostgreSQL.

The first group restates what Logto's own integration tests check (upsert answering the stored
list, filters, get by id, partial details update, delete by id and in bulk, the 404 and 422
codes), in this file's words. Then what Logto does not check but a caller meets: a newcomer's
misspelt `templateType` or empty list, the checks our store makes at save (syntax, template
bombs, header injection in `sendFrom`) answered in Logto's error shape, and an attacker's
other-tenant ids, read-only key, path tricks and huge bodies. Last, a template stored through
this API is what a send uses.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import (
    ServeProcess,
    cli,
    definition,
    key_headers,
    postgres_database,
    serve_env,
    start_serve,
)
from smtp_servers import MakeServer

URL = "/api/email-templates"
MAX_TEMPLATES = 8  # the serve's SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP
LOGTO_ID = re.compile(r"^[0-9a-z]{1,64}$")  # Logto: 21 chars; ours: 32 hex
SAMPLES: list[dict[str, Any]] = [
    {"languageTag": "en", "templateType": "SignIn",
     "details": {"subject": "Your sign-in code", "content": "<p>Code: {{code}}</p>",
                 "contentType": "text/html"}},
    {"languageTag": "en", "templateType": "Register",
     "details": {"subject": "Welcome", "content": "<p>Register with {{code}}</p>",
                 "contentType": "text/html"}},
    {"languageTag": "de", "templateType": "SignIn",
     "details": {"subject": "Ihr Anmeldecode", "content": "Code: {{code}}",
                 "contentType": "text/plain"}},
]  # fmt: skip


class Served:
    """One `serve` process and the operator's headers; each test makes its own apps."""

    def __init__(self, process: ServeProcess, url: str, operator: dict[str, str]) -> None:
        self.process, self.url, self.operator = process, url, operator

    def client(self, headers: dict[str, str]) -> httpx.Client:
        return httpx.Client(base_url=self.process.base_url, headers=headers, timeout=30)

    def new_app(self, *scopes: str) -> tuple[str, dict[str, str]]:
        """A fresh app and a key bound to it (every scope unless `scopes`)."""
        app_id = f"app-{secrets.token_hex(4)}"
        with self.client(self.operator) as http:
            created = http.post("/v1/apps", json={"name": app_id, "id": app_id})
            assert created.status_code == 201, created.text
        return app_id, key_headers(self.url, *scopes, app=app_id)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("logto-templates")
    with _database(request.param, folder) as url:
        cli("db", "upgrade", "--database-url", url, env=serve_env())
        operator = key_headers(url)
        env = serve_env(SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP=str(MAX_TEMPLATES))
        process = start_serve(url, folder / "serve.log", env)
        try:
            yield Served(process, url, operator)
        finally:
            process.stop()


def _database(engine: str, folder: Path) -> Any:
    if engine == "postgres":
        return postgres_database()
    from contextlib import nullcontext

    return nullcontext(f"sqlite:///{folder / 'service.db'}")


def logto_error(response: httpx.Response, status: int, code: str) -> str:
    """Logto's RequestError body: {code, message, data}; answers the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


def put(http: httpx.Client, templates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = http.put(URL, json={"templates": templates})
    assert answer.status_code == 200, answer.text
    stored: list[dict[str, Any]] = answer.json()
    return stored


# Logto's own cases ------------------------------------------------------------------------


def test_put_answers_the_stored_templates_in_logtos_shape(served: Served) -> None:
    app_id, h = served.new_app()
    with served.client(h) as http:
        stored = put(http, SAMPLES)
    assert len(stored) == len(SAMPLES)
    for sent, got in zip(SAMPLES, stored, strict=True):
        assert set(got) == {"tenantId", "id", "languageTag", "templateType", "details",
                            "createdAt"}  # fmt: skip
        assert LOGTO_ID.match(got["id"]), got["id"]
        assert got["tenantId"] == app_id
        assert isinstance(got["createdAt"], int) and got["createdAt"] > 1_700_000_000_000
        assert (got["languageTag"], got["templateType"]) == (sent["languageTag"],
                                                              sent["templateType"])  # fmt: skip
        assert got["details"] == sent["details"]
    assert len({t["id"] for t in stored}) == 3


def test_put_again_replaces_the_details_and_keeps_the_id(served: Served) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        first = put(
            http,
            [SAMPLES[0] | {"details": SAMPLES[0]["details"] | {"replyTo": "help@example.com"}}],
        )
        changed = [{**t, "details": {"subject": t["details"]["subject"] + " (new)",
                                     "content": t["details"]["content"] + " new"}}
                   for t in SAMPLES]  # fmt: skip
        second = put(http, changed)
    assert len(second) == 3
    assert second[0]["id"] == first[0]["id"]
    assert second[0]["createdAt"] == first[0]["createdAt"]
    for sent, got in zip(changed, second, strict=True):
        assert got["details"]["subject"] == sent["details"]["subject"]
        assert got["details"]["content"] == sent["details"]["content"]
    # Replaced whole, as Logto does: the first version's replyTo is gone.
    assert "replyTo" not in second[0]["details"]


def test_list_filters_by_language_and_type_in_logtos_order(served: Served) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        put(http, SAMPLES)
        everything = http.get(URL).json()
        by_language = http.get(URL, params={"languageTag": "en"}).json()
        by_type = http.get(URL, params={"templateType": "SignIn"}).json()
        both = http.get(URL, params={"languageTag": "de", "templateType": "SignIn"}).json()
        none = http.get(URL, params={"languageTag": "fr"})
    keys = [(t["languageTag"], t["templateType"]) for t in everything]
    assert keys == [("de", "SignIn"), ("en", "Register"), ("en", "SignIn")]
    for sent in SAMPLES:
        (match,) = [t for t in everything if (t["languageTag"], t["templateType"]) ==
                    (sent["languageTag"], sent["templateType"])]  # fmt: skip
        assert match["details"] == sent["details"]
    assert {t["templateType"] for t in by_language} == {"SignIn", "Register"}
    assert {t["languageTag"] for t in by_type} == {"en", "de"}
    assert [t["details"]["subject"] for t in both] == ["Ihr Anmeldecode"]
    assert none.status_code == 200 and none.json() == []


def test_get_by_id_and_404_for_an_unknown_id(served: Served) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        first = put(http, SAMPLES)[0]
        found = http.get(f"{URL}/{first['id']}")
        missing = http.get(f"{URL}/invalid-id")
    assert found.status_code == 200 and found.json() == first
    message = logto_error(missing, 404, "entity.not_exists_with_id")
    assert "invalid-id" in message


def test_patch_details_merges_and_404s_for_an_unknown_id(served: Served) -> None:
    app_id, h = served.new_app()
    with served.client(h) as http:
        first = put(http, SAMPLES)[0]
        change = {"subject": "Your code (updated)", "replyTo": "support@example.com"}
        patched = http.patch(f"{URL}/{first['id']}/details", json=change)
        unchanged = http.patch(f"{URL}/{first['id']}/details", json={"ignored": "x"})
        unknown = http.patch(f"{URL}/invalid-id/details", json={})
        reread = http.get(f"{URL}/{first['id']}").json()
        history = http.get(f"/v1/apps/{app_id}/templates/SignIn/en/history").json()
    assert patched.status_code == 200, patched.text
    assert patched.json()["details"] == first["details"] | change
    assert patched.json()["id"] == first["id"]
    assert reread == patched.json() == unchanged.json()
    logto_error(unknown, 404, "entity.not_exists_with_id")
    # The same history as the native API's: the PUT and the PATCH; an empty PATCH adds none.
    assert [entry["subject"] for entry in history] == [change["subject"], "Your sign-in code"]


def test_delete_by_id_answers_204_then_404(served: Served) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        first = put(http, SAMPLES)[0]
        deleted = http.delete(f"{URL}/{first['id']}")
        again = http.delete(f"{URL}/{first['id']}")
        gone = http.get(f"{URL}/{first['id']}")
        left = http.get(URL).json()
    assert deleted.status_code == 204 and deleted.content == b""
    logto_error(again, 404, "entity.not_exists_with_id")
    logto_error(gone, 404, "entity.not_exists_with_id")
    assert len(left) == 2


@pytest.mark.parametrize(
    ("query", "count", "left"),
    [
        ({"languageTag": "en"}, 2, [("de", "SignIn")]),
        ({"templateType": "SignIn"}, 2, [("en", "Register")]),
        (
            {"languageTag": "en", "templateType": "SignIn"},
            1,
            [("de", "SignIn"), ("en", "Register")],
        ),
        ({"languageTag": "fr"}, 0, [("de", "SignIn"), ("en", "Register"), ("en", "SignIn")]),
    ],
)
def test_bulk_delete_by_filter_answers_the_row_count(
    served: Served, query: dict[str, str], count: int, left: list[tuple[str, str]]
) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        put(http, SAMPLES)
        deleted = http.delete(URL, params=query)
        remaining = http.get(URL).json()
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"rowCount": count}
    assert [(t["languageTag"], t["templateType"]) for t in remaining] == left


def test_bulk_delete_without_a_filter_is_422_and_deletes_nothing(served: Served) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        put(http, SAMPLES)
        refused = http.delete(URL)
        empty_values = http.delete(URL, params={"languageTag": "", "templateType": ""})
        remaining = http.get(URL).json()
    message = logto_error(refused, 422, "connector.email_connector.bulk_deletion_no_filter")
    assert "languageTag" in message and "templateType" in message
    logto_error(empty_values, 400, "guard.invalid_input")
    assert len(remaining) == 3


# A newcomer's mistakes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"templates": [SAMPLES[0] | {"templateType": "signin"}]}, "did you mean 'SignIn'"),
        ({"templates": [SAMPLES[0] | {"templateType": "Test"}]}, "templateType"),
        ({"templates": []}, "templates"),
        ({"templates": [SAMPLES[0] | {"details": {"content": "x"}}]}, "subject"),
        ({"templates": [SAMPLES[0] | {"details": SAMPLES[0]["details"] | {
            "contentType": "text/markdown"}}]}, "contentType"),
        ({"templates": [SAMPLES[0] | {"languageTag": "x" * 17}]}, "templates.0.languageTag"),
        ({"templates": [SAMPLES[0] | {"languageTag": "../en"}]}, "languageTag '../en'"),
        ([SAMPLES[0]], "templates"),  # the list without its {"templates": …} wrapper
    ],
)  # fmt: skip
def test_a_malformed_put_is_400_naming_the_field(served: Served, body: Any, named: str) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        refused = http.put(URL, json=body)
        stored = http.get(URL).json()
    message = logto_error(refused, 400, "guard.invalid_input")
    details = refused.json().get("details") or ""
    assert named in message + details, refused.text
    assert stored == []


def test_a_query_with_an_unknown_template_type_is_400(served: Served) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        listed = http.get(URL, params={"templateType": "Signin"})
        deleted = http.delete(URL, params={"templateType": "Signin"})
    for answer in (listed, deleted):
        text = logto_error(answer, 400, "guard.invalid_input") + answer.json().get("details", "")
        assert "SignIn" in text  # the type meant


# Our checks at save, in Logto's error shape ----------------------------------------------


@pytest.mark.parametrize(
    "details",
    [
        {"subject": "Code", "content": "<p>{% if code %}{{ code }}</p>"},  # unclosed block
        {"subject": "Code {{code}}", "content": "{% for i in range(10**9) %}x{% endfor %}"},
        {"subject": "Code", "content": "{{code}}", "sendFrom": "a@example.com\r\nBcc: x@evil.test"},
        {"subject": "Code", "content": "{{code}}", "replyTo": "not an address\nBcc: x@evil.test"},
    ],
)
def test_a_template_the_store_refuses_stores_nothing(
    served: Served, details: dict[str, str]
) -> None:
    _, h = served.new_app()
    batch = [SAMPLES[1], {"languageTag": "en", "templateType": "SignIn", "details": details}]
    with served.client(h) as http:
        refused = http.put(URL, json={"templates": batch})
        stored = http.get(URL).json()
    message = logto_error(refused, 422, "template_error")
    assert message.startswith("templates[1] (SignIn/en): "), message
    assert "evil.test" not in message or "line break" in message
    assert stored == []  # all or nothing, as Logto's transaction


def test_a_syntax_error_names_its_line(served: Served) -> None:
    _, h = served.new_app()
    content = "<p>Hello</p>\n<p>{{ code }</p>\n"
    with served.client(h) as http:
        refused = http.put(URL, json={"templates": [{
            "languageTag": "en", "templateType": "SignIn",
            "details": {"subject": "Code", "content": content}}]})  # fmt: skip
    message = logto_error(refused, 422, "template_error")
    assert "line 2" in message, message


def test_patch_runs_the_same_checks(served: Served) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        first = put(http, SAMPLES)[0]
        refused = http.patch(f"{URL}/{first['id']}/details", json={"content": "{% if %}"})
        injected = http.patch(f"{URL}/{first['id']}/details", json={"sendFrom": "a@b.c\nX: y"})
        bad_type = http.patch(f"{URL}/{first['id']}/details", json={"contentType": "html"})
        after = http.get(f"{URL}/{first['id']}").json()
    logto_error(refused, 422, "template_error")
    assert "line break" in logto_error(injected, 422, "template_error")
    assert "contentType" in logto_error(bad_type, 400, "guard.invalid_input")
    assert after == first


# An attacker's tries ----------------------------------------------------------------------


def test_another_tenants_templates_are_not_found(served: Served) -> None:
    _, mine = served.new_app()
    _, theirs = served.new_app()
    with served.client(theirs) as http:
        their_id = put(http, SAMPLES)[0]["id"]
    with served.client(mine) as http:
        assert http.get(URL).json() == []
        logto_error(http.get(f"{URL}/{their_id}"), 404, "entity.not_exists_with_id")
        patch = http.patch(f"{URL}/{their_id}/details", json={"subject": "pwned"})
        logto_error(patch, 404, "entity.not_exists_with_id")
        logto_error(http.delete(f"{URL}/{their_id}"), 404, "entity.not_exists_with_id")
        assert http.delete(URL, params={"languageTag": "en"}).json() == {"rowCount": 0}
        # Putting the same language and type makes the caller's own template, not theirs.
        mine_stored = put(http, [SAMPLES[0]])[0]
        assert mine_stored["id"] != their_id
    with served.client(theirs) as http:
        theirs_now = http.get(f"{URL}/{their_id}").json()
        assert theirs_now["details"] == SAMPLES[0]["details"]
        assert len(http.get(URL).json()) == 3


def test_keys_without_write_scope_or_without_a_key(served: Served) -> None:
    _, h = served.new_app()
    app_id, read_only = served.new_app("smtpserver_read")
    with served.client(read_only) as http:
        refused = http.put(URL, json={"templates": SAMPLES})
        bulk = http.delete(URL, params={"languageTag": "en"})
        listed = http.get(URL)
    assert refused.status_code == 403 and bulk.status_code == 403
    assert listed.status_code == 200 and listed.json() == []
    with served.client({}) as http:
        anonymous = http.get(URL)
    assert anonymous.status_code == 401
    assert set(anonymous.json()) >= {"code", "message"}
    del h, app_id


@pytest.mark.parametrize(
    "path",
    [f"{URL}/..%2F..%2Fv1%2Fapps", f"{URL}/%00", f"{URL}/" + "a" * 5000,
     f"{URL}/https:%2F%2Fevil.test", f"{URL}/'%20OR%201=1--"],
)  # fmt: skip
def test_an_id_that_is_a_path_or_url_finds_nothing(served: Served, path: str) -> None:
    _, h = served.new_app()
    with served.client(h) as http:
        put(http, SAMPLES)
        answer = http.get(path)
        deleted = http.delete(path)
        left = http.get(URL).json()
    assert answer.status_code in (400, 404, 414), answer.text
    assert deleted.status_code in (400, 404, 405, 414)
    assert len(left) == 3


def test_a_huge_body_is_refused_before_it_is_read(served: Served) -> None:
    _, h = served.new_app()
    huge = {"templates": [{"languageTag": "en", "templateType": "SignIn",
                           "details": {"subject": "x", "content": "x" * 3_000_000}}]}  # fmt: skip
    with served.client(h) as http:
        refused = http.put(URL, json=huge)
        small = {"subject": "s", "content": "{{code}}"}
        many = [{"languageTag": f"l{i}", "templateType": "SignIn", "details": small}
                for i in range(1000)]  # fmt: skip
        too_many = http.put(URL, json={"templates": many})
        stored = http.get(URL).json()
    assert refused.status_code == 413, refused.text
    assert too_many.status_code in (400, 413, 422), too_many.text
    assert stored == []


def test_a_list_over_the_apps_cap_stores_none_of_it(served: Served) -> None:
    _, h = served.new_app()
    more = [{"languageTag": tag, "templateType": "Generic",
             "details": {"subject": "Hi", "content": "{{code}}"}}
            for tag in ("fr", "es", "it", "nl", "pl", "sv")]  # fmt: skip
    with served.client(h) as http:
        first = put(http, SAMPLES)
        over = http.put(URL, json={"templates": more})  # 3 held + 6 new > 8
        longer = http.put(URL, json={"templates": SAMPLES + more})  # 9 in one list > 8
        after_over = http.get(URL).json()
        fits = http.put(URL, json={"templates": SAMPLES + more[:5]})  # 3 held + 5 new = 8
    message = logto_error(over, 422, "too_many_templates")
    assert "(8)" in message and "SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP" in message
    assert "at most 8 in one list" in logto_error(longer, 400, "guard.invalid_input")
    assert after_over == sorted(first, key=lambda t: (t["languageTag"], t["templateType"]))
    assert fits.status_code == 200 and len(fits.json()) == 8


def test_a_tenant_cannot_name_its_app_after_the_logto_app(served: Served) -> None:
    app_id, h = served.new_app()
    with served.client(h) as http:
        renamed = http.patch(f"/v1/apps/{app_id}", json={"name": "logto"})
    assert renamed.status_code == 400, renamed.text
    assert "reserved" in renamed.json()["error"]["message"]


def test_an_operator_key_uses_the_services_logto_app(served: Served) -> None:
    _, tenant = served.new_app()
    with served.client(tenant) as http:
        tenants_id = put(http, [SAMPLES[2]])[0]["id"]
    with served.client(served.operator) as http:
        before = http.get(URL)
        stored = put(http, [SAMPLES[2]])
        apps = {a["name"]: a["id"] for a in http.get("/v1/apps").json()}
        listed = http.get(URL).json()
        # The operator's key may reach every app, but this API speaks for the logto app only.
        logto_error(http.get(f"{URL}/{tenants_id}"), 404, "entity.not_exists_with_id")
        logto_error(http.delete(f"{URL}/{tenants_id}"), 404, "entity.not_exists_with_id")
        cleaned = http.delete(URL, params={"languageTag": "de"})
    assert before.status_code == 200 and before.json() in ([], listed)
    assert stored[0]["tenantId"] == apps["logto"]
    assert [t["id"] for t in listed] == [stored[0]["id"]]
    assert cleaned.json() == {"rowCount": 1}
    with served.client(tenant) as http:
        assert [t["id"] for t in http.get(URL).json()] == [tenants_id]


# What a send does with them -------------------------------------------------------------


def test_a_template_put_through_logtos_api_is_what_a_send_uses(
    served: Served, make_server: MakeServer
) -> None:
    live = make_server()
    app_id, h = served.new_app()
    server = definition(live.port, username=None, password=None)
    with served.client(h) as http:
        assert http.post(f"/v1/apps/{app_id}/servers", json=server).status_code == 201
        put(http, SAMPLES)
        sent = http.post(f"/v1/apps/{app_id}/messages", json={
            "to": "ana@example.org", "usageType": "SignIn", "locale": "de",
            "payload": {"code": "774411"}})  # fmt: skip
        assert sent.status_code == 200, sent.text
        first = live.messages[-1].content
        template_id = http.get(URL, params={"languageTag": "de"}).json()[0]["id"]
        patched = http.patch(f"{URL}/{template_id}/details", json={"subject": "Neuer Code"})
        assert patched.status_code == 200
        again = http.post(f"/v1/apps/{app_id}/messages", json={
            "to": "ana@example.org", "usageType": "SignIn", "locale": "de",
            "payload": {"code": "774412"}})  # fmt: skip
        assert again.status_code == 200, again.text
    assert b"Ihr Anmeldecode" in first and b"774411" in first
    assert b"Neuer Code" in live.messages[-1].content and b"774412" in live.messages[-1].content
