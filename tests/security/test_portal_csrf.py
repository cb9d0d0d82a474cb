"""Finding 4 (MEDIUM): CSRF on the portal dialect.

The portal routes take their key from the `asc_auth_key` cookie and their POST accepted form
bodies and JSON sent as `text/plain`: a hostile page's form repointed the portal's SMTP host
with the victim's cookie. Now a write authenticated by the cookie needs a same-origin signal
(`Sec-Fetch-Site: same-origin|none`, else an `Origin` equal to the service's, else no signal
but a JSON content type) and never takes a form or `text/plain` body (server/csrf.py).

Against a real `serve`: a hostile page in Chromium (served from another port of 127.0.0.1, so
the browser does send the cookie) posts a form, a `text/plain` form carrying JSON and a no-cors
`fetch`; each is refused and the stored host is unchanged, while the same browser's same-origin
`fetch` with JSON saves. Then the requests a browser (or a script) sends, replayed header for
header: each refusal is a 403 in the portal's envelope saying why; Bearer requests are not
affected.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from browser_support import chromium
from edge_support import Served, message_of

URL = "/api/2.0/smtpsettings/smtp"
HOME = {"host": "mail.example.org", "port": 587, "senderAddress": "otp@example.org",
        "credentialsUserName": "otp@example.org", "credentialsUserPassword": "Portal-pa55",
        "enableSSL": True, "enableAuth": True}  # fmt: skip
EVIL = "attacker.example.net"


@pytest.fixture(scope="module")
def served(edge_serve: Served) -> Served:
    """The folder's shared serve (conftest.py), with the portal's settings saved by Bearer."""
    with edge_serve.client() as client:
        saved = client.post(URL, json=HOME)  # the operator's own save
        assert saved.status_code == 200, saved.text
    return edge_serve


def stored_host(served: Served) -> str:
    with served.client() as client:
        return str(client.get(URL).json()["response"]["host"])


HOSTILE_PAGE = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" action="{target}" target="sink">
  <input name="host" value="{evil}"><input name="credentialsUserPassword" value="mine">
</form>
<form id="plain" method="POST" action="{target}" target="sink" enctype="text/plain">
  <input name='{{"host": "{evil}", "credentialsUserPassword": "mine", "x": "' value='"}}'>
</form>
<script>
document.getElementById("form").submit();
setTimeout(() => document.getElementById("plain").submit(), 300);
fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}},
  body: JSON.stringify({{host: "{evil}", credentialsUserPassword: "mine"}})}});
</script></body></html>"""


class Hostile:
    """The attacker's page on its own port of 127.0.0.1: same site as the service, so the
    browser attaches the cookie (SameSite=Lax does not stop same-site requests)."""

    def __init__(self, html: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_hostile_page_in_chromium_cannot_change_the_settings(served: Served) -> None:
    target = served.process.base_url + URL
    hostile = Hostile(HOSTILE_PAGE.format(target=target, evil=EVIL))
    statuses: list[int] = []
    try:
        with chromium() as browser:
            context = browser.new_context()
            context.add_cookies([{"name": "asc_auth_key", "value": served.admin,
                                  "domain": "127.0.0.1", "path": "/"}])  # fmt: skip
            page = context.new_page()
            page.on("response", lambda r: statuses.append(r.status) if URL in r.url else None)
            page.goto(hostile.url)
            for _ in range(150):  # the three posts go out on their own
                if len(statuses) >= 3:
                    break
                page.wait_for_timeout(100)
            assert len(statuses) == 3 and set(statuses) == {403}, statuses
            assert stored_host(served) == HOME["host"]

            # The same browser, on the service's own origin, with JSON: that is a save.
            page.goto(served.process.base_url + "/healthz")
            saved = page.evaluate("""async (url) => {
                const response = await fetch(url, {method: "POST",
                  headers: {"Content-Type": "application/json"},
                  body: JSON.stringify({senderDisplayName: "Portal"})});
                return [response.status, await response.json()];
            }""", URL)  # fmt: skip
            assert saved[0] == 200, saved
            assert saved[1]["response"]["senderDisplayName"] == "Portal"
            context.close()
    finally:
        hostile.close()
    assert stored_host(served) == HOME["host"]


FORM = "application/x-www-form-urlencoded"
ATTACK_FORM = f"host={EVIL}&credentialsUserPassword=mine"
ATTACK_JSON = f'{{"host": "{EVIL}", "credentialsUserPassword": "mine"}}'


def own_origin(served: Served) -> str:
    return served.process.base_url


@pytest.mark.parametrize(
    ("case", "headers", "body", "why"),
    [
        ("a cross-site form, as Chromium sends it",
         {"Content-Type": FORM, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site",
          "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, ATTACK_FORM, FORM),
        ("a form from a browser that sends neither Origin nor Sec-Fetch-Site",
         {"Content-Type": FORM}, ATTACK_FORM, FORM),
        ("a form claiming to come from the service's own origin",
         {"Content-Type": FORM, "Sec-Fetch-Site": "same-origin", "Origin": "$self"}, ATTACK_FORM,
         FORM),
        ("a multipart form", {"Content-Type": "multipart/form-data; boundary=x"},
         f'--x\r\nContent-Disposition: form-data; name="host"\r\n\r\n{EVIL}\r\n--x--\r\n',
         "multipart/form-data"),
        ("JSON as text/plain from a sandboxed page (Origin: null)",
         {"Content-Type": "text/plain;charset=UTF-8", "Origin": "null"}, ATTACK_JSON,
         "text/plain"),
        ("JSON from a sibling site", {"Content-Type": "application/json",
         "Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"}, ATTACK_JSON,
         "Sec-Fetch-Site: same-site"),
        ("JSON from another port, no Sec-Fetch-Site", {"Content-Type": "application/json",
         "Origin": "http://127.0.0.1:1"}, ATTACK_JSON, "is not this service's origin"),
        ("a POST without a content type or any origin signal", {}, ATTACK_JSON,
         "no Content-Type"),
    ],
)  # fmt: skip
def test_cookie_writes_without_a_same_origin_signal_are_refused(
    served: Served, case: str, headers: dict[str, str], body: str, why: str
) -> None:
    headers = {k: v.replace("$self", own_origin(served)) for k, v in headers.items()}
    cookie = {"Cookie": f"asc_auth_key={served.admin}"}
    refused = httpx.post(served.process.base_url + URL, content=body.encode(),
                         headers=headers | cookie)  # fmt: skip
    assert refused.status_code == 403, f"{case}: {refused.text}"
    error = refused.json()
    assert (error["status"], error["statusCode"], error["error"]["type"]) == (1, 403, "forbidden")
    assert why in message_of(refused) and "Bearer" in message_of(refused), refused.text
    assert stored_host(served) == HOME["host"]


def test_cross_site_delete_is_refused_and_reads_are_not_checked(served: Served) -> None:
    cookie = {"Cookie": f"asc_auth_key={served.admin}"}
    base = served.process.base_url + URL
    deleted = httpx.delete(base, headers=cookie | {"Sec-Fetch-Site": "cross-site"})
    assert deleted.status_code == 403 and "Sec-Fetch-Site" in message_of(deleted)
    read = httpx.get(base, headers=cookie | {"Sec-Fetch-Site": "cross-site"})
    assert read.status_code == 200 and read.json()["response"]["host"] == HOME["host"]


def test_what_a_same_origin_page_or_a_script_sends_is_accepted(served: Served) -> None:
    cookie = {"Cookie": f"asc_auth_key={served.admin}"}
    base = served.process.base_url + URL
    accepted = [
        {"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin",
         "Origin": own_origin(served)},
        {"Content-Type": "application/json", "Origin": own_origin(served)},
        {"Content-Type": "application/json; charset=utf-8"},  # a script: no browser headers
        {"Content-Type": "application/json", "Sec-Fetch-Site": "none"},  # typed by the user
    ]  # fmt: skip
    for number, headers in enumerate(accepted):
        saved = httpx.post(base, json={"senderDisplayName": f"Portal {number}"},
                           headers=cookie | headers)  # fmt: skip
        assert saved.status_code == 200, (headers, saved.text)
        assert saved.json()["response"]["senderDisplayName"] == f"Portal {number}"


def test_bearer_requests_are_not_affected(served: Served) -> None:
    """No browser adds `Authorization` by itself: a Bearer form post from anywhere is a
    deliberate client, and the check does not apply."""
    with served.client() as client:
        saved = client.post(URL, content=b"senderDisplayName=Bearer+form",
                            headers={"Content-Type": FORM, "Origin": "http://evil.example",
                                     "Sec-Fetch-Site": "cross-site"})  # fmt: skip
        assert saved.status_code == 200, saved.text
        assert saved.json()["response"]["senderDisplayName"] == "Bearer form"
    assert stored_host(served) == HOME["host"]
