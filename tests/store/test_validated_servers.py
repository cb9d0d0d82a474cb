"""Failover servers validated once per distinct entry (store/validated_servers.py) give the
very config, warnings and errors that validating the whole config from dicts gives.

Hypothesis draws sequences of configs whose `servers[]` entries come from a small pool, so
that later configs reuse entries validated (or refused) by earlier ones, with valid and invalid
values, in different positions and beside different top-level settings.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConfig
from smtp_connector.store.validated_servers import ValidatedServers

HOSTS = st.sampled_from(["127.0.0.1", "smtp.example.org", "mx.example.net", "bad host"])
PORTS = st.sampled_from([25, 465, 587, 2525, 70000])
SENDERS = st.sampled_from(["codes@example.net", "ops@example.test", "not an address", "a@b.c"])
OPTIONAL = {
    "port": PORTS,
    "secure": st.booleans(),
    "ignoreTLS": st.booleans(),
    "requireTLS": st.booleans(),
    "tls": st.fixed_dictionaries({"rejectUnauthorized": st.booleans()}),
    "auth": st.fixed_dictionaries({"user": st.sampled_from(["u1", "u2"])},
                                  optional={"pass": st.sampled_from(["p-one-2345", "1", 1])}),
    "connectionTimeout": st.sampled_from([1, 10000, 0, True]),
    "defaultFromEmail": SENDERS,
    "defaultFromName": st.sampled_from(["Codes", "Bad\nName"]),
    "label": st.sampled_from(["d1", "d2"]),
}  # fmt: skip
ENTRY = st.fixed_dictionaries(
    {"host": HOSTS, "priority": st.integers(min_value=0, max_value=3)}, optional=OPTIONAL
)


@st.composite
def pools(draw: st.DrawFn) -> list[dict[str, Any]]:
    """An entry and variants of it that differ in one key each (a key cache that ignored a
    key, or a value's type, would mistake one for another)."""
    base = draw(ENTRY)
    keys = draw(st.lists(st.sampled_from(sorted(OPTIONAL)), max_size=4))
    return [base, *({**base, key: draw(OPTIONAL[key])} for key in keys)]


CONFIG = st.fixed_dictionaries(
    {"host": st.just("127.0.0.1"), "fromEmail": st.just("noreply@example.com")},
    optional={"allowSpecialUseDomains": st.booleans(), "ignoreTLS": st.booleans()},
)


def outcome(validate: Any, data: dict[str, Any]) -> tuple[Any, ...]:
    """What validating `data` gives: the config's full dump (secrets revealed) and its
    warnings, or the error's code, message and details."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            config = validate(data)
        except ConnectorError as error:
            return ("refused", error.code, error.message, error.details)
    dump = config.to_dict(reveal_secrets=True)
    servers = [server.model_dump(by_alias=True) for server in config.servers]
    return ("config", dump, servers, [str(w.message) for w in caught])


@settings(max_examples=300, deadline=None)
@given(
    pool=pools(),
    configs=st.lists(
        st.tuples(CONFIG, st.lists(st.integers(min_value=0, max_value=4), max_size=4)),
        min_size=1,
        max_size=4,
    ),
)
def test_reused_servers_validate_as_dicts_do(
    pool: list[dict[str, Any]], configs: list[tuple[dict[str, Any], list[int]]]
) -> None:
    cache = ValidatedServers()
    for top, picks in configs:
        data = top | {"servers": [dict(pool[pick % len(pool)]) for pick in picks]}
        assert outcome(cache.config, data) == outcome(SmtpConfig.model_validate, data)


def test_an_entry_seen_before_is_not_validated_again() -> None:
    cache = ValidatedServers()
    entry = {"host": "smtp.example.org", "port": 2525, "priority": 1, "ignoreTLS": True}
    base = {"host": "127.0.0.1", "fromEmail": "noreply@example.com"}
    first = cache.config(base | {"servers": [dict(entry)]})
    second = cache.config(base | {"fromName": "Shop", "servers": [dict(entry), {"host": "b"}]})
    assert second.servers[0] is first.servers[0]
    changed = cache.config(base | {"servers": [entry | {"port": 2526}]})
    assert changed.servers[0] is not first.servers[0] and changed.servers[0].port == 2526


def test_an_entry_is_kept_only_while_a_config_uses_it() -> None:
    """A failover entry holds its decrypted password: once no config (no cached connector)
    uses it, as after its definition was changed or deleted, the cache holds nothing of it."""
    cache = ValidatedServers()
    base = {"host": "127.0.0.1", "fromEmail": "noreply@example.com"}
    entry = {"host": "smtp.example.org", "auth": {"user": "u", "pass": "p-one-2345"}}
    kept = cache.config(base | {"servers": [dict(entry)]})
    dropped = cache.config(base | {"servers": [{"host": "old.example.org"}]})
    assert len(cache) == 2
    del dropped
    assert len(cache) == 1  # reference counting frees it at once: no collection needed
    again = cache.config(base | {"fromName": "Shop", "servers": [dict(entry)]})
    assert again.servers[0] is kept.servers[0]
    del kept, again
    assert len(cache) == 0


@pytest.mark.parametrize("value", [float("nan"), b"bytes"])
def test_an_entry_that_is_not_json_is_validated_every_time(value: Any) -> None:
    cache = ValidatedServers()
    data = {"host": "127.0.0.1", "fromEmail": "noreply@example.com",
            "servers": [{"host": "smtp.example.org", "label": value}]}  # fmt: skip
    assert outcome(cache.config, data) == outcome(SmtpConfig.model_validate, data)
    assert outcome(cache.config, data) == outcome(SmtpConfig.model_validate, data)
