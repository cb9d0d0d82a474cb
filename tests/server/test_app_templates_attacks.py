"""Templates per app, refused where they must be, against a real `serve` on SQLite and
PostgreSQL: another tenant's key and a read-only key on every route, paths and bodies that are
not what they should be, each template bomb and a syntax error refused at save (nothing
stored), header injection through sendFrom/replyTo, the caps; and a newcomer's mistakes with
the message they get."""

from __future__ import annotations

import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import key_headers
from template_serve import MAX_TEMPLATES, Served

from smtp_connector.store.hints import LIBRARY_KEYS

CODE_HTML = "<p>{{code}}</p>"
OK = {"subject": "Code {{code}}", "content": CODE_HTML}
# One bomb per sandbox bound: output size, a padding width, loop iterations, a huge integer
# (memory), lipsum, recursion, render time.
BOMBS = {
    "output": "{{ 'a' * 10**9 }}",
    "padding": "{{ 'a'|center(10**9) }}",
    "loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "integer": "{{ 10 ** (10 ** 8) }}",
    "lipsum": "{{ lipsum(10**6) }}",
    "recursion": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "time": "{% for i in range(99999) %}{% for j in range(9) %}"
    "{{ (i ~ j)|reverse|upper|lower|trim|length }}{% endfor %}{% endfor %}",
}


def routes(app: str) -> list[tuple[str, str, dict[str, object] | None]]:
    """Every route of the app's templates, as (method, path, JSON body)."""
    one = f"/v1/apps/{app}/templates/SignIn/en"
    return [
        ("GET", f"/v1/apps/{app}/templates", None),
        ("GET", f"/v1/apps/{app}/templates/levels", None),
        ("POST", f"/v1/apps/{app}/templates/preview", {"usageType": "SignIn", "locale": "en"}),
        ("GET", one, None),
        ("PUT", one, OK),
        ("DELETE", one, None),
        ("GET", f"{one}/history", None),
        ("POST", f"{one}/revert", {"version": 1}),
        ("POST", f"/v1/apps/{app}/templates/test", {"to": "probe@example.org"}),
    ]


def test_another_tenants_key_and_a_read_only_key(served: Served) -> None:
    with served.client() as client:
        mine, theirs = served.new_app(client), served.new_app(client)
        secret = {"subject": "tenant-a-secret {{code}}", "content": CODE_HTML}
        assert client.put(f"/v1/apps/{mine}/templates/SignIn/en", json=secret).status_code == 201
        served.add_server(client, theirs)
    other = key_headers(served.url, app=theirs)
    reader = key_headers(served.url, "smtpserver_read", app=mine)
    with served.client(other) as attacker:
        for method, path, body in routes(mine):
            answer = attacker.request(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
            assert "tenant-a-secret" not in answer.text
        own = attacker.get(f"/v1/apps/{theirs}/templates")
        assert own.status_code == 200 and own.json() == []
        sent = attacker.post(f"/v1/apps/{theirs}/messages", json={
            "to": "leak@example.org", "usageType": "SignIn", "locale": "en",
            "payload": {"code": "1"}})  # fmt: skip
        assert sent.status_code == 200, sent.text
        assert "tenant-a-secret" not in served.mail_to("leak@example.org").as_string()
    with served.client(reader) as read_only:
        for method, path, body in routes(mine):
            answer = read_only.request(method, path, json=body)
            if method in ("PUT", "DELETE") or path.endswith(("/revert", "/test")):
                assert answer.status_code == 403, (method, path, answer.text)
                scope = "smtpserver_send" if path.endswith("/test") else "smtpserver_write"
                assert scope in answer.json()["error"]["message"]
            else:
                assert answer.status_code == 200, (method, path, answer.text)
    with served.client({}) as anonymous:
        assert anonymous.get(f"/v1/apps/{mine}/templates").status_code == 401
    with served.client() as client:
        assert client.get("/v1/apps/no-such-app/templates").status_code == 404
        assert (
            client.get(f"/v1/apps/{mine}/templates/SignIn/en")
            .json()["subject"]
            .startswith("tenant-a-secret")
        )  # untouched by the refused writes


def test_paths_and_bodies_that_are_not_templates(served: Served) -> None:
    with served.client() as client:
        app = served.new_app(client)
        base = f"/v1/apps/{app}/templates"
        for path in (
            f"{base}/SignIn/..%2F..%2Fetc%2Fpasswd",
            f"{base}/SignIn/https:%2F%2Fevil.example",
            f"{base}/Sign%20In/en",
            f"{base}/{'A' * 101}/en",
            f"{base}/SignIn/{'e' * 40}",
        ):
            answer = client.put(path, json=OK)
            assert answer.status_code in (404, 422), (path, answer.text)
        huge = client.put(f"{base}/SignIn/en", json={"subject": "x", "content": "a" * 150_000})
        assert huge.status_code == 413, huge.text
        assert huge.json()["error"]["code"] == "template_too_large"
        assert "SMTP_CONNECTOR_MAX_TEMPLATE_BYTES" in huge.json()["error"]["message"]
        body_cap = client.put(f"{base}/SignIn/en", json={"subject": "x", "content": "a" * 2**21})
        assert body_cap.status_code == 413
        malformed = client.put(f"{base}/SignIn/en", content=b'{"subject": ',
                               headers={"Content-Type": "application/json"})  # fmt: skip
        assert malformed.status_code == 422
        wrong_type = client.put(f"{base}/SignIn/en", json={"subject": "x", "content": ["a"]})
        assert wrong_type.status_code == 422 and "content" in wrong_type.json()["error"]["message"]
        assert client.get(base).json() == []  # nothing stored by any of these


def test_syntax_errors_bombs_and_injected_headers_are_refused_at_save(served: Served) -> None:
    with served.client() as client:
        app = served.new_app(client)
        path = f"/v1/apps/{app}/templates/SignIn/en"
        syntax = client.put(
            path,
            json={"subject": "Code {{code}}", "content": "<p>Hello</p>\n<p>{{code}}</p>\n{% if %}"},
        )
        assert syntax.status_code == 422, syntax.text
        error = syntax.json()["error"]
        assert error["code"] == "template_error" and "line 3" in error["message"]

        for name, content in BOMBS.items():
            refused = client.put(path, json={"subject": "Code {{code}}", "content": content})
            assert refused.status_code == 422, (name, refused.text)
            message = refused.json()["error"]["message"]
            assert refused.json()["error"]["code"] == "template_error", (name, message)
            assert not [key for key in LIBRARY_KEYS | {"renderTimeout"} if f"`{key}`" in message]

        for field, value in (
            ("sendFrom", "a@example.org\r\nBcc: victim@example.org"),
            ("replyTo", "help@example.org\nBcc: victim@example.org"),
            ("sendFrom", "not-an-address"),
            ("replyTo", "a@example.org, b@example.org"),
        ):
            refused = client.put(path, json=OK | {field: value})
            assert refused.status_code == 422, (field, value, refused.text)
            assert field in refused.json()["error"]["message"], refused.text
        injected = client.put(path, json={"subject": "Code\r\nBcc: x@example.org", "content": "x"})
        assert injected.status_code == 422
        assert client.get(f"/v1/apps/{app}/templates").json() == []  # nothing stored

        posted = client.post(
            f"/v1/apps/{app}/templates/preview",
            json={"usageType": "SignIn", "template": {"subject": "s", "content": BOMBS["loops"]}},
        )
        assert posted.status_code == 422 and posted.json()["error"]["code"] == "template_error"


def test_the_per_app_cap(served: Served) -> None:
    with served.client() as client:
        app = served.new_app(client)
        base = f"/v1/apps/{app}/templates"
        tags = ["en", "de", "fr", "es", "it", "nl", "pl"][: MAX_TEMPLATES + 1]
        for tag in tags[:-1]:
            assert client.put(f"{base}/SignIn/{tag}", json=OK).status_code == 201
        over = client.put(f"{base}/SignIn/{tags[-1]}", json=OK)
        assert over.status_code == 422, over.text
        assert over.json()["error"]["code"] == "too_many_templates"
        assert "SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP" in over.json()["error"]["message"]
        assert client.put(f"{base}/SignIn/en", json=OK).status_code == 200  # replacing is fine
        assert client.delete(f"{base}/SignIn/de").status_code == 204
        assert client.put(f"{base}/SignIn/{tags[-1]}", json=OK).status_code == 201


def test_a_newcomers_mistakes_and_what_they_are_told(served: Served) -> None:
    with served.client() as client:
        app = served.new_app(client)
        base = f"/v1/apps/{app}/templates"
        codeless = client.put(f"{base}/SignIn/en", json={"subject": "Hi", "content": "<p>Hi</p>"})
        assert codeless.status_code == 201  # saved, with a warning saying what is missing
        assert "{{code}}" in " ".join(codeless.json()["warnings"])

        misspelt = client.put(f"{base}/Regsiter/en", json=OK)
        assert misspelt.status_code == 201
        assert "did you mean 'Register'" in " ".join(misspelt.json()["warnings"])

        library_name = client.put(f"{base}/Register/en", json=OK | {"textContent": "{{code}}"})
        assert library_name.status_code == 201 and library_name.json()["text"] == "{{code}}"

        for body, named in (
            (OK | {"contentType": "html"}, "contentType"),
            (OK | {"body": "<p>{{code}}</p>"}, "body"),
            ({"content": CODE_HTML}, "subject"),
            (OK | {"contentType": "text/plain", "text": "x"}, "text"),
        ):
            refused = client.put(f"{base}/BindMfa/en", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert named in refused.json()["error"]["message"], refused.text

        preview = client.post(f"{base}/preview", json={"usageType": "Register", "locale": "en",
                                                      "payload": {"otp": "123"}})  # fmt: skip
        assert preview.status_code == 200, preview.text
        assert any("would be refused" in warning for warning in preview.json()["warnings"])
        no_sender = served.new_app(client, fromEmail=None)
        stand_in = client.post(f"/v1/apps/{no_sender}/templates/preview", json={})
        assert stand_in.status_code == 200
        assert any("fromEmail" in warning for warning in stand_in.json()["warnings"])
