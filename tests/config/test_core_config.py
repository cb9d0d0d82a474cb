"""A core-fields config read without pydantic (config/core.py) is the model's config.

`plain_config` either defers (None: the model validates, and gives its error or config) or
gives a `PlainConfig` equal, field by field and rule by rule, to what `SmtpConfig` validates
from the same dict, with no warning the model would have given. The plain classes' fields and
defaults are held to the models' here, so a model field that changes fails this file."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from smtp_connector.config import (
    AuthConfig,
    EmailTemplate,
    HealthOptions,
    PoolOptions,
    RetryOptions,
    ServerConfig,
    SmtpConfig,
    ThrottleOptions,
    TlsOptions,
)
from smtp_connector.config.core import CORE_FIELDS, plain_config
from smtp_connector.config.records import (
    PlainAuth,
    PlainConfig,
    PlainHealth,
    PlainPool,
    PlainRetry,
    PlainServer,
    PlainThrottle,
    PlainTls,
)
from smtp_connector.errors import ConnectorError, redact

GROUPS = {"auth", "tls", "pool", "retry", "health", "throttle"}
SERVER_RULES = (
    "implicit_tls",
    "effective_port",
    "clear_auth_allowed",
    "tls_server_name",
    "address",
)
TEMPLATE_RULES = ("text_source", "html_source", "label")
AUTH_RULES = (
    "enabled",
    "missing_credentials",
    "has_token_source",
    "password",
    "uses_service_account",
    "token_url",
    "can_refresh",
    "fetches_tokens",
)


def assert_same(plain: Any, model: BaseModel, where: str = "") -> None:
    """Every field of `model` (option groups field by field) equal in `plain`, of one type."""
    for name in type(model).model_fields:
        mine, theirs = getattr(plain, name), getattr(model, name)
        if name in GROUPS:
            assert_same(mine, theirs, f"{where}{name}.")
        elif name == "templates":
            assert len(mine) == len(theirs), f"{where}{name}"
            for index, (one, other) in enumerate(zip(mine, theirs, strict=True)):
                assert_same(one, other, f"{where}{name}[{index}].")
        elif isinstance(theirs, SecretStr):
            assert mine.get_secret_value() == theirs.get_secret_value(), f"{where}{name}"
        else:
            assert (mine, type(mine)) == (theirs, type(theirs)), f"{where}{name}"
    rules = AUTH_RULES if isinstance(model, AuthConfig) else ()
    if isinstance(model, EmailTemplate):
        rules = TEMPLATE_RULES
    if isinstance(model, ServerConfig | SmtpConfig):
        rules = SERVER_RULES
        assert plain.tls_flag_notes() == model.tls_flag_notes()
        assert plain.tls.any_given is model.tls.any_given is bool(model.tls.model_fields_set)
    for rule in rules:
        assert getattr(plain, rule) == getattr(model, rule), f"{where}{rule}"


def validated(data: dict[str, Any]) -> tuple[SmtpConfig | None, list[str]]:
    """The model of `data` (None for an error) and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = SmtpConfig.model_validate(data)
        except ConnectorError:
            model = None
    return model, [str(w.message) for w in caught]


def test_the_core_keys_are_the_models_aliases() -> None:
    fields = SmtpConfig.model_fields
    for key, (name, _check) in CORE_FIELDS.items():
        assert (fields[name].alias or name) == key


def test_the_plain_classes_have_the_models_fields_and_defaults() -> None:
    """One field per model field, nothing more (`source` aside); a default config equal to the
    model's (an option group's default is its model validated from nothing)."""
    pairs = [
        (PlainAuth, AuthConfig),
        (PlainTls, TlsOptions),
        (PlainPool, PoolOptions),
        (PlainRetry, RetryOptions),
        (PlainHealth, HealthOptions),
        (PlainThrottle, ThrottleOptions),
        (PlainServer, ServerConfig),
    ]
    for plain, model in pairs:
        assert list(plain.FIELDS) == list(model.model_fields), plain.__name__
    assert set(PlainConfig.FIELDS) - set(SmtpConfig.model_fields) == {"source"}
    assert set(SmtpConfig.model_fields) <= set(PlainConfig.FIELDS)
    for plain, model in pairs[:-1]:
        assert_same(plain(), model.model_validate({}))
    data = {"host": "smtp.example.com", "fromEmail": "noreply@example.com"}
    config = plain_config(data)
    assert config is not None
    assert_same(config, SmtpConfig.model_validate(data))


# Core keys with valid, doubtful and wrong values, and keys the plain check never takes.
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "host": st.one_of(
        st.sampled_from(
            [
                "127.0.0.1",
                "smtp.example.com",
                " smtp.example.com",
                "smtp example",
                "a/b",
                "",
                "h\u2028",
                "::1",
                "h\t",
            ]
        ),
        st.text(max_size=8),
        st.integers(),
        st.none(),
    ),
    "port": st.one_of(
        st.integers(-3, 70_000), st.sampled_from([25, 465, 587, True, "25", 25.0, None])
    ),
    "fromEmail": st.one_of(
        st.sampled_from(
            [
                "noreply@example.com",
                "Acme <no-reply@acme.com>",
                "x@localhost",
                "x@foo.test",
                "",
                "not an address",
                "é@exämple.com",
                "a@b.co\r\n",
                '"Q" <q@example.org>',
            ]
        ),
        st.text(max_size=10),
        st.none(),
    ),
    "fromName": st.one_of(
        st.sampled_from(["Acme", "", "A\nB", "Ünï", " spaced "]),
        st.text(max_size=8),
        st.none(),
        st.integers(),
    ),
    "auth": st.one_of(
        st.none(),
        st.just({}),
        st.fixed_dictionaries({"user": st.sampled_from(["me", ""]), "pass": st.text(max_size=9)}),
        st.dictionaries(
            st.sampled_from(["user", "pass", "type", "method", "accessToken"]),
            st.one_of(st.text(max_size=6), st.none(), st.integers()),
            max_size=3,
        ),
    ),
    **{
        flag: st.one_of(st.booleans(), st.none(), st.sampled_from(["true", 1, 0]))
        for flag in ("secure", "requireTLS", "ignoreTLS", "logger", "debug")
    },
    "templates": st.just([]),
    "from_email": st.just("noreply@example.com"),
    "replyTo": st.just("help@example.org"),
    "pool": st.just({"maxConnections": 2}),
    "hots": st.just("typo.example.com"),
}


# Values the plain check should take (most of them), so that half the examples are compared.
VALID: dict[str, st.SearchStrategy[Any]] = {
    # and two the model strips (Unicode whitespace), which the plain check must defer
    "host": st.sampled_from(
        [
            "127.0.0.1",
            "smtp.example.com",
            "::1",
            "mail.acme.com",
            "mail.acme.com\u3000",
            "\x1cmail.acme.com",
        ]
    ),
    "port": st.one_of(st.integers(1, 65_535), st.sampled_from([25, 465, 587])),
    "fromEmail": st.sampled_from(
        ["noreply@example.com", "Acme <no-reply@acme.com>", '"Q" <q@example.org>', "x@localhost"]
    ),
    "fromName": st.one_of(st.none(), st.text(max_size=8)),
    "auth": st.one_of(
        st.none(),
        st.just({}),
        st.fixed_dictionaries(
            {"user": st.text(min_size=1, max_size=6), "pass": st.text(min_size=1, max_size=9)}
        ),
    ),
    **{
        flag: st.booleans() if flag != "secure" else st.one_of(st.none(), st.booleans())
        for flag in ("secure", "requireTLS", "ignoreTLS", "logger", "debug")
    },
}


def mostly_valid() -> st.SearchStrategy[dict[str, Any]]:
    """A valid core config, sometimes with one key of `VALUES` written over or added."""
    valid = st.fixed_dictionaries(
        {"host": VALID["host"], "fromEmail": VALID["fromEmail"]},
        optional={k: v for k, v in VALID.items() if k not in ("host", "fromEmail")},
    )
    return st.one_of(
        valid,
        st.tuples(
            valid,
            st.sampled_from(sorted(VALUES)).flatmap(
                lambda key: st.tuples(st.just(key), VALUES[key])
            ),
        ).map(lambda pair: {**pair[0], pair[1][0]: pair[1][1]}),
    )


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(mostly_valid(), st.fixed_dictionaries({}, optional=VALUES)),
    st.sampled_from(["host", "fromEmail", "both", "neither"]),
)
# Found by CI (a KeyError, not a config): an empty login spelled with a None user and no pass.
@example({"auth": {"user": None}}, "both")
@example({"auth": {"pass": None}}, "both")
@example({"auth": {"user": None, "pass": None}}, "both")
def test_a_plain_config_defers_or_equals_the_model(data: dict[str, Any], required: str) -> None:
    if required in ("host", "both"):
        data.setdefault("host", "127.0.0.1")
    if required in ("fromEmail", "both"):
        data.setdefault("fromEmail", "noreply@example.com")
    plain = plain_config(data)
    model, warned = validated(data)
    if plain is None:
        return
    assert model is not None, "the plain check took a config the model refuses"
    assert warned == []
    assert_same(plain, model)
    [server] = plain.server_list()
    [model_server] = model.server_list()
    assert_same(server, model_server)
    assert plain.model().to_dict(reveal_secrets=True) == model.to_dict(reveal_secrets=True)


def test_usual_configs_are_read_plain() -> None:
    """The configs the check is for: cold_start.py's, a Logto-style login, implicit TLS."""
    usual = [
        {
            "host": "127.0.0.1",
            "port": 1025,
            "fromEmail": "noreply@example.com",
            "fromName": "Acme",
            "ignoreTLS": True,
        },
        {
            "host": "smtp.example.com",
            "port": 587,
            "fromEmail": "Acme <no-reply@acme.com>",
            "auth": {"user": "apikey", "pass": "s3cret-pass"},
            "requireTLS": True,
        },
        {
            "host": "smtp.example.com",
            "port": 465,
            "secure": True,
            "fromEmail": "a@acme.com",
            "auth": {"user": "a@acme.com", "pass": "pw-1234"},
            "logger": False,
        },
    ]
    for data in usual:
        plain = plain_config(data)
        assert plain is not None, data
        assert_same(plain, SmtpConfig.model_validate(data))


def test_a_plain_configs_password_is_redacted_and_never_shown() -> None:
    password = "core-config-secret-93"
    data = {
        "host": "h.example.com",
        "fromEmail": "a@acme.com",
        "auth": {"user": "me", "pass": password},
    }
    plain = plain_config(data)
    assert plain is not None
    assert password not in repr(plain) and password not in repr(plain.server_list())
    assert password not in redact(f"refused: {password}")
    assert plain.auth.password == password


def test_plain_records_are_read_only_and_share_no_list() -> None:
    data = {"host": "h.example.com", "fromEmail": "a@acme.com"}
    first, second = plain_config(data), plain_config(data)
    assert first is not None and second is not None and first == second
    assert first.templates is not second.templates and first.servers is not second.servers
    for record, name in [(first, "host"), (first.auth, "user"), (first.retry, "attempts")]:
        try:
            setattr(record, name, None)
        except AttributeError:
            continue
        raise AssertionError(f"{type(record).__name__}.{name} could be written")


def test_a_fault_in_the_plain_check_falls_back_to_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plain check is a shortcut: if it ever raises (a bug, as the KeyError CI found), the
    connector is still built, by the model, which stays the authority."""
    import smtp_connector.connector as module
    from smtp_connector import SmtpConnector
    from smtp_connector.config import SmtpConfig

    def broken(data: Any) -> None:
        raise KeyError("pass")

    monkeypatch.setattr(module, "plain_config", broken)
    connector = SmtpConnector({"host": "127.0.0.1", "fromEmail": "noreply@example.com"})
    assert type(connector._config) is SmtpConfig
    with pytest.raises(ConnectorError) as raised:  # and a bad config is still the model's error
        SmtpConnector({"host": "127.0.0.1", "fromEmail": "not an address"})
    assert raised.value.code.value == "invalid_config"
