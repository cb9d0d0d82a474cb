"""A rebuild reuses a failover server's validated entry by the columns of its definition
(configs.entry_key): it must give the very config that building and validating every entry
from its decrypted dict gives, never hand a changed definition (any column, its password
included, or its app's sender) the entry of the old one, and skip decrypting the unchanged.

Hypothesis draws a definition and variants of it that differ in one column each, and builds
sequences of connectors from them (all kept alive, so that the cache holds their entries).
"""

from __future__ import annotations

import gc
import warnings
from dataclasses import replace
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConfig
from smtp_connector.store import configs
from smtp_connector.store.build_rows import ServerRow
from smtp_connector.store.configs import AppSender, build_config, connector_config
from smtp_connector.store.secrets import SecretBox
from smtp_connector.store.validated_servers import ValidatedServers

BOX = SecretBox([Fernet.generate_key().decode()])
PASSWORDS = [BOX.encrypt(secret) for secret in ("p-one-2345", "p-two-6789")]
PASSWORDS.append(BOX.encrypt("p-one-2345"))  # the same password, another token

BASE = ServerRow(id="d1", name="one", host="smtp.example.org", port=2525, security="none",
                 auth=True, ntlm=False, username="u1", password_enc=PASSWORDS[0], priority=1,
                 from_email=None, from_name=None, timeout=10, enqueue=False,
                 allow_special_use_domains=False, tls_ca=None, verify_certificate=True,
                 smime=False, smime_certificate=None, smime_private_key_enc=None,
                 smime_private_key_path=None, smime_key_password_enc=None,
                 smime_dont_send_on_error=False)  # fmt: skip
PRIMARY = replace(BASE, id="p", host="127.0.0.1", from_email="noreply@example.com", priority=0)
COLUMNS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.sampled_from(["d1", "d2"]),
    "name": st.sampled_from([None, "one", "two"]),
    "host": st.sampled_from(["smtp.example.org", "mx.example.net", "bad host"]),
    "port": st.sampled_from([25, 2525, 70000]),
    "security": st.sampled_from(["none", "starttls", "tls"]),
    "auth": st.booleans(),
    "ntlm": st.booleans(),
    "username": st.sampled_from([None, "u1", "u2"]),
    "password_enc": st.sampled_from([None, *PASSWORDS]),
    "priority": st.integers(min_value=0, max_value=3),
    "from_email": st.sampled_from([None, "codes@example.net", "not an address"]),
    "from_name": st.sampled_from([None, "Codes", "Bad\nName"]),
    "timeout": st.sampled_from([1, 10, 0]),
    "enqueue": st.booleans(),
    "allow_special_use_domains": st.booleans(),
    "verify_certificate": st.booleans(),
    "smime_dont_send_on_error": st.booleans(),
}
SENDERS = [("app@example.com", "App"), ("app@example.com", None), ("other@example.com", "App")]
APPS = st.sampled_from([None, AppSender(), *(AppSender(*sender) for sender in SENDERS)])


@st.composite
def pools(draw: st.DrawFn) -> list[ServerRow]:
    """A definition and variants of it that differ in one column each."""
    names = draw(st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=5))
    return [BASE, *(replace(BASE, **{name: draw(COLUMNS[name])}) for name in names)]


def outcome(validate: Any) -> tuple[Any, ...]:
    """The full dump (secrets revealed) and warnings of a config, or the error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            config = validate()
        except ConnectorError as error:
            return ("refused", error.code, error.message, error.details)
    servers = [server.model_dump(by_alias=True) for server in config.servers]
    return (
        "config",
        config.to_dict(reveal_secrets=True),
        servers,
        [str(w.message) for w in caught],
    )


PICKS = st.lists(st.integers(0, 5), min_size=1, max_size=4)  # failover rows, from the pool


@settings(max_examples=300, deadline=None)
@given(
    pool=pools(),
    builds=st.lists(st.tuples(PICKS, APPS), min_size=2, max_size=5),
)
def test_row_keyed_entries_build_as_dicts_do(
    pool: list[ServerRow], builds: list[tuple[list[int], AppSender | None]]
) -> None:
    kept: list[tuple[ServerRow, AppSender | None, Any]] = []  # alive: the cache keeps entries
    for picks, app in builds:
        rows = [PRIMARY, *(pool[pick % len(pool)] for pick in picks)]
        cached = outcome(lambda: build_config(rows, BOX, app=app))  # noqa: B023
        plain = outcome(lambda: SmtpConfig.model_validate(connector_config(rows, BOX, app=app)))  # noqa: B023
        assert cached == plain
        if cached[0] == "config":
            config = build_config(rows, BOX, app=app)
            for row, server in zip(rows[1:], config.servers, strict=True):
                for old_row, old_app, old_server in kept:
                    if server is old_server:  # reused: only for the very same columns and sender
                        assert (row, _sender(app)) == (old_row, _sender(old_app))
                kept.append((row, app, server))


def _sender(app: AppSender | None) -> tuple[str | None, str | None] | None:
    return None if app is None else (app.from_email, app.from_name)


class CountingBox(SecretBox):
    """A real box that counts what it decrypts."""

    decrypted = 0

    def decrypt(self, token: str) -> str:
        self.decrypted += 1
        return super().decrypt(token)


def test_an_unchanged_definition_is_not_decrypted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the primary (validated with every config) and the changed definition decrypt;
    once no config uses an entry, the cache holds nothing of it (nor of its password)."""
    monkeypatch.setattr(configs, "_SERVERS", ValidatedServers())
    box = CountingBox([Fernet.generate_key().decode()])
    token = box.encrypt("p-one-2345")
    rows = [replace(PRIMARY, password_enc=token)]
    rows += [replace(BASE, id=f"d{n}", priority=n, password_enc=token) for n in range(1, 6)]
    first = build_config(rows, box)
    assert box.decrypted == 6
    box.decrypted = 0
    changed = replace(rows[3], password_enc=box.encrypt("p-two-6789"))
    second = build_config([*rows[:3], changed, *rows[4:]], box)
    assert box.decrypted == 2
    assert [a is b for a, b in zip(first.servers, second.servers, strict=True)] == [
        True, True, False, True, True,
    ]  # fmt: skip
    assert second.servers[2].auth is not None
    assert second.servers[2].auth.password == "p-two-6789"
    del first
    gc.collect()
    assert len(configs._SERVERS) == 5  # the old d3 entry left with the config that used it
    del second
    assert len(configs._SERVERS) == 0
