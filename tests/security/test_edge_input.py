"""Findings 10, 11 and 14 (LOW): input no route can store or send was not refused at the edge.

A lone surrogate (`"\\ud800"`) escaped as `UnicodeEncodeError`: a 500 on a direct send, a
`connection_failed` retried when queued. Deeply nested JSON was a 500 on every dialect's write
route. On PostgreSQL a NaN/Infinity payload was a 503 "database not available" with
Retry-After (its JSON type refuses them). Now every route, the send route's short path
included, answers 400 in its own envelope, before anything is stored, on SQLite and on
PostgreSQL: for lone surrogates, control characters (keys too), NaN, Infinity, a number that
overflows to infinity, and nesting past 32 levels, in JSON bodies (whatever their content
type), form bodies, query strings and paths.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from edge_support import Served, message_of, serve_on
from service_fixtures import pg_database  # noqa: F401  (the fixture, for `database`)
from service_support import definition
from smtp_servers import free_port

# A JSON value (as raw text) that must be refused, and a word the refusal must contain.
BAD_VALUES = [
    ('"\\ud800"', "surrogate"),
    ('"x\\udfff"', "surrogate"),
    ('"a\\u0000b"', "U+0000"),
    ('"bell\\u0007"', "U+0007"),
    ('"del\\u007f"', "U+007F"),
    ('"next line\\u0085"', "U+0085"),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("-Infinity", "-Infinity"),
    ("1e999", "too large"),
    ('{"k\\u0001": 1}', "key"),
    ("[" * 40 + "]" * 40, "deeper than 32"),
    ("[" * 5000 + "]" * 5000, "deeper than 32"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """One serve per database for the module (starting one takes seconds); each test makes
    its own app."""
    if request.param == "sqlite":
        yield request.getfixturevalue("edge_serve")  # the folder's shared serve (conftest.py)
        return
    folder = tmp_path_factory.mktemp("edge-input")
    url = request.getfixturevalue("pg_database")
    with serve_on(url, folder / "serve.log", log_level="info") as served:
        yield served


def routes(served: Served, app: str) -> dict[str, tuple[str, dict[str, str], str]]:
    """Each write route of each API: (path, headers, JSON body with `$V` for the bad value)."""
    key = served.admin
    bearer = {"Authorization": f"Bearer {key}"}
    return {
        "native": ("/v1/apps", bearer, '{"name": $V}'),
        "short path": (f"/v1/apps/{app}/messages", bearer,
                       '{"to": "user@example.org", "payload": {"code": $V}}'),
        "per-app list": ("/private/smtps/save", bearer,
                         f'{{"idapp": "{app}", "host": "mail.example.org", "debug": $V}}'),
        "app integrations": ("/api/v1/app-integrations/smtp",
                             {"Auth-Key": key, "Brand-URL": app}, '{"name": $V}'),
        "portal": ("/api/2.0/smtpsettings/smtp", bearer, '{"senderDisplayName": $V}'),
        "privacyIDEA": ("/smtpserver/otp", {"Authorization": key},
                        '{"server": "mail.example.org", "description": $V}'),
        "Logto templates": ("/api/email-templates", bearer,
                            '{"templates": [{"languageTag": "en", "templateType": "SignIn", '
                            '"details": {"subject": "Code", "content": $V}}]}'),
    }  # fmt: skip


METHODS = {"Logto templates": "PUT"}  # the others' write routes are POSTs


def items(response: httpx.Response) -> list[dict[str, object]]:
    """A native list's entries, whether it answers a bare list or a page of them."""
    assert response.status_code == 200, response.text
    body = response.json()
    return list(body["items"] if isinstance(body, dict) else body)


def queued_messages(client: httpx.Client) -> int:
    return sum(client.get("/v1/queue").json()["depth"].values())


def test_bad_json_is_400_in_every_envelope_and_nothing_is_stored(served: Served) -> None:
    with served.client() as client:
        apps_before = len(items(client.get("/v1/apps")))
        app = client.post("/v1/apps", json={"name": "queued shop"}).json()["id"]
        # Queued sending: on PostgreSQL a NaN payload used to reach the outbox's JSON column.
        queued = client.post(f"/v1/apps/{app}/servers", json=definition(free_port(), enqueue=True))
        assert queued.status_code == 201, queued.text
        for name, (path, headers, body) in routes(served, app).items():
            for value, word in BAD_VALUES:
                for content_type in ("application/json", "text/plain"):
                    if content_type == "text/plain" and name in ("native", "short path"):
                        continue  # FastAPI reads JSON only as JSON (422), so no bypass there
                    typed = headers | {"Content-Type": content_type}
                    method = METHODS.get(name, "POST")
                    refused = client.request(method, path, content=body.replace("$V", value),
                                             headers=typed)  # fmt: skip
                    where = f"{name} with {value[:20]} as {content_type}"
                    assert refused.status_code == 400, f"{where}: {refused.text}"
                    assert word in message_of(refused), f"{where}: {refused.text}"
        assert len(items(client.get("/v1/apps"))) == apps_before + 1
        assert len(items(client.get(f"/v1/apps/{app}/servers"))) == 1
        assert client.get("/api/email-templates").json() == []
        assert queued_messages(client) == 0
        # The control: a valid send on the same route is queued (202), and counted.
        sent = client.post(f"/v1/apps/{app}/messages",
                           json={"to": "user@example.org", "payload": {"code": "1"}})  # fmt: skip
        assert sent.status_code == 202 and queued_messages(client) == 1
    assert "Traceback" not in served.log() and " 500 " not in served.log()


def test_query_strings_forms_and_paths_are_checked_too(served: Served) -> None:
    key = served.admin
    with served.client() as client:
        app = client.post("/v1/apps", json={"name": "form shop"}).json()["id"]
        cases = [
            ("GET", "/smtpserver/?identifier=%07", {"Authorization": key}, None, "U+0007"),
            ("GET", "/private/smtps/findByApp?idapp=%C2%85", {}, None, "U+0085"),
            ("GET", "/v1/apps?x%00=1", {}, None, "U+0000"),
            ("GET", "/private/smtps/findById?idsmtp=%ff", {}, None, "not UTF-8"),
            ("GET", "/v1/apps/%01/servers", {}, None, "U+0001"),
            ("POST", "/smtpserver/otp", {"Authorization": key},
             b"server=mail.example.org&description=%00", "U+0000"),
            ("POST", "/private/smtps/save", {}, f"idapp={app}&host=a%ED%A0%80".encode(),
             "not UTF-8"),
        ]  # fmt: skip
        for method, path, headers, form, word in cases:
            if form is not None:
                headers = headers | {"Content-Type": "application/x-www-form-urlencoded"}
            refused = client.request(method, path, content=form, headers=headers)
            assert refused.status_code == 400, f"{path}: {refused.text}"
            assert word in message_of(refused), f"{path}: {refused.text}"
        assert items(client.get(f"/v1/apps/{app}/servers")) == []


def test_what_stays_accepted(served: Served) -> None:
    """Tabs, newlines, non-ASCII text, big finite numbers and 32 levels still pass the edge."""
    with served.client() as client:
        created = client.post("/v1/apps", json={"name": "Café\tcorner ✉ 日本"})
        assert created.status_code == 201, created.text
        nested: object = "deep"
        for _ in range(30):  # with `payload` and the body: 32
            nested = {"n": nested}
        body = {
            "to": "user@example.org",
            "payload": {"big": 1e308, "tree": nested, "text": "line\r\nnext\tcol"},
        }
        sent = client.post(f"/v1/apps/{created.json()['id']}/messages", json=body)
        assert sent.status_code == 409, sent.text  # no server yet: past the edge, the domain
        pi = client.get("/smtpserver/?identifier=caf%C3%A9", headers={"Authorization":
                                                                      served.admin})  # fmt: skip
        assert pi.status_code == 200, pi.text


def test_a_bad_body_without_a_key_is_still_refused(served: Served) -> None:
    """The edge check needs no key: an anonymous NaN is 400, not a 401 that invites a retry
    with a key and the same body."""
    refused = httpx.post(f"{served.process.base_url}/v1/apps", content=b'{"name": NaN}',
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert refused.status_code == 400 and "NaN" in message_of(refused)
