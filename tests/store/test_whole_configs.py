"""A rebuild reuses the whole validated config when nothing it is made of changed
(configs.config_key): it must give the very config, notes included, that validating from
dicts gives, never hand a build whose primary, failover definitions, sender or locale changed
(a password token included) the config of another, and hold nothing once no connector uses it.

Hypothesis draws a primary and failover definitions from variants of one definition that
differ in one column each, and sequences of builds from them, every config kept alive (so the
cache holds them all).
"""

from __future__ import annotations

import gc
import warnings
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_entry_keys import BASE, BOX, COLUMNS, PRIMARY, SENDERS, outcome

from smtp_connector import ConnectorError, SmtpConfig
from smtp_connector.errors import ConfigWarning
from smtp_connector.store import configs
from smtp_connector.store.build_rows import ServerRow
from smtp_connector.store.configs import (
    AppSender,
    build_config,
    connector_config,
    validate_definition,
)
from smtp_connector.store.validated_servers import ValidatedServers

APPS = st.sampled_from(
    [None, AppSender(), *(AppSender(*sender) for sender in SENDERS), AppSender(*SENDERS[0], "de")]
)


@st.composite
def pools(draw: st.DrawFn, first: ServerRow) -> list[ServerRow]:
    """A definition and variants of it that differ in one column each."""
    names = draw(st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=4))
    return [first, *(replace(first, **{name: draw(COLUMNS[name])}) for name in names)]


BUILD = st.tuples(st.integers(0, 4), st.lists(st.integers(0, 4), max_size=3), APPS)


@settings(max_examples=300, deadline=None)
@given(primaries=pools(PRIMARY), failovers=pools(BASE), builds=st.lists(BUILD, min_size=2,
                                                                         max_size=6))  # fmt: skip
def test_a_remembered_config_is_the_one_validation_gives(
    primaries: list[ServerRow],
    failovers: list[ServerRow],
    builds: list[tuple[int, list[int], AppSender | None]],
) -> None:
    kept: list[tuple[list[ServerRow], AppSender | None, SmtpConfig]] = []
    for first, rest, app in builds:
        rows = [primaries[first % len(primaries)], *(failovers[n % len(failovers)] for n in rest)]
        cached = outcome(lambda: build_config(rows, BOX, app=app))  # noqa: B023
        plain = outcome(lambda: SmtpConfig.model_validate(connector_config(rows, BOX, app=app)))  # noqa: B023
        assert cached == plain  # notes (warnings) included, on a reuse as well
        if cached[0] == "config":
            config = build_config(rows, BOX, app=app)
            for old_rows, old_app, old_config in kept:
                if config is old_config:  # reused: only for the very same columns and sender
                    assert (rows, _sender(app)) == (old_rows, _sender(old_app))
            kept.append((rows, app, config))


def _sender(app: AppSender | None) -> tuple[Any, ...] | None:
    return None if app is None else (app.from_email, app.from_name, app.default_locale)


def test_an_unchanged_config_is_reused_and_let_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configs, "_SERVERS", ValidatedServers())
    token = BOX.encrypt("p-one-2345")
    rows = [replace(PRIMARY, password_enc=token)]
    rows += [replace(BASE, id=f"d{n}", priority=n) for n in range(1, 4)]
    first = build_config(rows, BOX)
    assert build_config(list(rows), BOX) is first
    changed = [replace(rows[0], password_enc=BOX.encrypt("p-one-2345")), *rows[1:]]
    second = build_config(changed, BOX)  # the same password, a new token: validated again
    assert second is not first and second.to_dict(reveal_secrets=True) == first.to_dict(
        reveal_secrets=True
    )
    assert build_config(rows, BOX, app=AppSender(default_locale="de")) is not first
    assert len(configs._SERVERS._configs) == 2
    del first, second
    gc.collect()
    assert len(configs._SERVERS._configs) == 0  # nothing (no password) outlives its connector


def test_an_smime_primary_is_validated_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its material may be files that change under the same columns."""
    monkeypatch.setattr(configs, "_SERVERS", ValidatedServers())
    rows = [replace(PRIMARY, smime=True)]
    assert configs.config_key(rows, BOX, None, [], None) is None
    assert configs.config_key([PRIMARY], BOX, None, [], None) is not None


def test_a_reused_config_gives_its_notes_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored settings give no TLS notes today; were a security mode to give one (here
    `ignoreTLS` beside `secure`), a reused config says it as validating it again would."""
    monkeypatch.setattr(configs, "_SERVERS", ValidatedServers())
    monkeypatch.setitem(configs.SECURITY, "none", {"secure": True, "ignoreTLS": True})
    rows = [PRIMARY, replace(BASE, priority=1)]
    first = outcome(lambda: build_config(rows, BOX))
    with pytest.warns(ConfigWarning):
        kept = build_config(rows, BOX)
    again = outcome(lambda: build_config(rows, BOX))
    assert first == again and first[0] == "config" and len(first[3]) == 2
    with pytest.warns(ConfigWarning):
        assert build_config(rows, BOX) is kept


def _checked(validate: Any) -> tuple[Any, ...]:
    """A definition's check: passed (with any notes) or the refusal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            validate()
        except ConnectorError as error:
            return ("refused", error.code, error.message, error.details)
    return ("passed", [str(w.message) for w in caught])


@settings(max_examples=200, deadline=None)
@given(pool=pools(PRIMARY), picks=st.lists(st.integers(0, 4), min_size=2, max_size=8))
def test_a_definition_validated_before_passes_as_validation_would(
    pool: list[ServerRow], picks: list[int]
) -> None:
    """A save that changes no column a config is made of is not validated again; every
    answer is the one validating it from its dict gives (refusals are never remembered)."""
    for pick in picks:
        row = pool[pick % len(pool)]
        cached = _checked(lambda: validate_definition(row, BOX, None))  # noqa: B023
        plain = _checked(
            lambda: SmtpConfig.model_validate(connector_config([row], BOX, validation_only=True))  # noqa: B023
        )
        assert cached == plain
