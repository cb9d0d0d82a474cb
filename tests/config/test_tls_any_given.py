"""`tls.any_given` (config/rules.py's `TlsRules`): a config gave a `tls` option, any, even at
its default value. delivery/tls.py's `may_use_tls` builds no TLS context for a plain-port
`ignoreTLS` server unless one was given; it read pydantic's `bool(tls.model_fields_set)`
before. Here the rule is held to that answer for every way a dict can give `tls` options
(aliases, snake_case names, Node options the model keeps unused, nulls, defaults, `{}`, none),
and the plain config's options (a core-fields dict has no `tls`) to the model's."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtp_connector.config import SmtpConfig, TlsOptions
from smtp_connector.config.core import plain_config
from smtp_connector.config.records import PlainTls
from smtp_connector.delivery.tls import may_use_tls

BASE = {"host": "smtp.example.com", "fromEmail": "no-reply@example.com"}

# Values each key takes without an error (the pair rules aside: `cert` needs `key`).
VALUES: dict[str, list[Any]] = {
    "rejectUnauthorized": [True, False],
    "reject_unauthorized": [True, False],
    "ca": [None, "-----BEGIN CERTIFICATE-----", ["a", "b"], []],
    "servername": [None, "", "mx.example.com"],
    "serverName": ["mx.example.com"],  # not an alias: kept as a Node option
    "minVersion": [None, "TLSv1.2", "TLSv1.3"],
    "max_version": [None, "TLSv1.3"],
    "ciphers": [None, "HIGH:!aNULL"],
    "passphrase": [None, "secret"],
    "pfx": [None],
    "secureProtocol": ["TLSv1_2_method"],  # Node options the model keeps unused
    "checkServerIdentity": [None, 0],
}

tls_dicts = st.dictionaries(st.sampled_from(sorted(VALUES)), st.none(), max_size=6).flatmap(
    lambda keys: st.fixed_dictionaries({key: st.sampled_from(VALUES[key]) for key in keys})
)


@pytest.mark.filterwarnings("ignore:`ignoreTLS` has no effect")  # port 465 with ignoreTLS
@settings(max_examples=400, deadline=None)
@given(tls=tls_dicts | st.none(), ignore=st.booleans(), port=st.sampled_from([25, 465, 587]))
@example(tls={}, ignore=True, port=25)
@example(tls=None, ignore=True, port=25)
@example(tls={"rejectUnauthorized": True}, ignore=True, port=25)
@example(tls={"ca": None}, ignore=True, port=25)
@example(tls={"secureProtocol": "TLSv1_2_method"}, ignore=True, port=25)
def test_any_given_is_the_models_fields_set(tls: dict[str, Any] | None, ignore: bool, port: int):
    config = SmtpConfig.model_validate({**BASE, "port": port, "ignoreTLS": ignore, "tls": tls})
    assert config.tls.any_given is bool(config.tls.model_fields_set)
    direct = TlsOptions.model_validate(tls or {})
    assert direct.any_given is bool(direct.model_fields_set)
    # What delivery does with it: a TLS context only where TLS may be used or options were given.
    old = config.implicit_tls or not config.ignore_tls or bool(config.tls.model_fields_set)
    assert may_use_tls(config) is old


def test_each_option_alone_counts_as_given() -> None:
    for key, values in VALUES.items():
        for value in values:
            options = TlsOptions.model_validate({key: value})
            assert options.any_given, (key, value)
    assert not TlsOptions().any_given
    assert not TlsOptions.model_validate({}).any_given


def test_options_set_after_validation_count_as_given() -> None:
    """`TlsOptions(ca=…)` and a model changed in place read as pydantic's fields set does."""
    assert TlsOptions(ca="pem").any_given
    options = TlsOptions()
    options.ciphers = "HIGH"
    assert options.any_given is bool(options.model_fields_set)


def test_a_plain_config_gives_no_tls_options_as_its_model() -> None:
    data = {**BASE, "port": 25, "ignoreTLS": True}
    plain, model = plain_config(data), SmtpConfig.model_validate(data)
    assert plain is not None
    assert plain.tls.any_given is model.tls.any_given is False
    assert not PlainTls().any_given
    assert may_use_tls(plain) is may_use_tls(model) is False
    assert plain_config({**data, "tls": {}}) is None  # any `tls` key: the model's to read
