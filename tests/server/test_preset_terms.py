"""The presets' guard rails speak the service's field names (issue 23 §5): a real `serve`,
every preset, the values a form sends that trip each rule (a TLS mode the port does not speak,
plain text, port 25, no login, a username by the wrong convention, a From that is not the
login), and no library config key (`secure: false`, `auth.user`, `ignoreTLS`, the EHLO
`name` …) in any finding or help text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import ServeProcess, key_headers, serve_env, start_serve

from smtp_connector.store.hints import library_keys

CONFIG_WORDS = re.compile(r"secure:|auth\.(user|pass|type)|ignoreTLS|requireTLS|\(`name`\)")
FORM_VALUES: list[dict[str, Any]] = [
    {},
    {"security": "tls", "port": 587},
    {"security": "starttls", "port": 465},
    {"security": "none"},
    {"port": 25},
    {"port": 2},
    {"auth": "false"},
    {"username": "bob"},
    {"username": "bob@example.com", "fromEmail": "news@shop.example.com"},
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("preset-terms")
    url = f"sqlite:///{folder / 'service.db'}"
    headers = key_headers(url, "smtpserver_read")
    process: ServeProcess = start_serve(url, folder / "serve.log", serve_env())
    try:
        with httpx.Client(base_url=process.base_url, headers=headers, timeout=30) as client:
            yield client
    finally:
        process.stop()


def assert_api_terms(text: str, where: str) -> None:
    assert not CONFIG_WORDS.search(text), (where, text)
    assert library_keys(text) == [], (where, text)


def test_every_finding_and_help_text_uses_the_apis_names(api: httpx.Client) -> None:
    presets = api.get("/v1/presets").json()
    assert len(presets) > 10
    codes: set[str] = set()
    for preset in presets:
        for text in (preset["usernameHelp"], preset["passwordHelp"],
                     *[p["note"] or "" for p in preset["ports"]]):  # fmt: skip
            assert_api_terms(text, preset["name"])
        for values in FORM_VALUES:
            answer = api.get(f"/v1/presets/{preset['name']}/warnings", params=values)
            assert answer.status_code == 200, (preset["name"], values, answer.text)
            for finding in answer.json()["warnings"]:
                assert_api_terms(finding["message"], f"{preset['name']} {values}")
                codes.add(finding["code"])
    # The walk did reach the rules whose library wording named config keys.
    assert {"tls_mismatch", "tls_required", "auth_required", "username_convention",
            "from_rewritten", "port_25_blocked"} <= codes, codes  # fmt: skip
    assert "ascii_ehlo_name" not in codes  # a setting the service does not have


def test_a_tls_mismatch_names_the_security_field_and_its_value(api: httpx.Client) -> None:
    params = {"security": "tls", "port": 587}
    found = api.get("/v1/presets/gmail/warnings", params=params).json()["warnings"]
    mismatch = next(f for f in found if f["code"] == "tls_mismatch")
    assert 'set `security` to "starttls" for port 587' in mismatch["message"]
    plain = api.get("/v1/presets/gmail/warnings", params={"security": "none", "port": 587})
    required = next(f for f in plain.json()["warnings"] if f["code"] == "tls_required")
    assert '`security` "none" would send the password in clear text' in required["message"]
