"""`SmtpConnector(dict)` as a newcomer and an attacker meet it, now that a dict of core fields
is read without pydantic (config/core.py).

Newcomer: the first mistakes in a config dict (a snake_case key, a port as text, a URL or a
path where the host belongs, a login without its password, a name where the address belongs)
get the model's own message, word for word what `SmtpConfig.model_validate` says, because
the plain check hands every such dict to the model. Attacker: a password put in a field of the
wrong type is not echoed; a config that turns TLS off beside a login is the model's to judge
(its warnings, or its refusal); a dict of thousands of keys is refused by the model, not
half-read.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from smtp_connector import SmtpConnector
from smtp_connector.config import SmtpConfig
from smtp_connector.config.core import plain_config
from smtp_connector.errors import ConnectorError

BASE = {"host": "smtp.example.com", "fromEmail": "noreply@example.com"}
SECRET = "Hunter2-in-the-wrong-place"


def outcome(build: Any) -> tuple[str, str, list[str]]:
    """("error", its message, warnings) or ("built", "", warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            build()
        except ConnectorError as error:
            return "error", error.message, [str(w.message) for w in caught]
    return "built", "", [str(w.message) for w in caught]


MISTAKES = {
    "snake_case key": {"host": "smtp.example.com", "from_email": "noreply@example.com"},
    "port as text": BASE | {"port": "587"},
    "URL as host": BASE | {"host": "smtp://smtp.example.com:587"},
    "path as host": BASE | {"host": "/var/run/postfix.sock"},
    "host with a port": BASE | {"host": "smtp.example.com:587"},
    "login without password": BASE | {"auth": {"user": "me@example.com"}},
    "password without login": BASE | {"auth": {"pass": SECRET}},
    "name as fromEmail": BASE | {"fromEmail": "Acme Codes"},
    "no fromEmail": {"host": "smtp.example.com"},
    "no host": {"fromEmail": "noreply@example.com"},
    "port out of range": BASE | {"port": 70000},
    "secure as text": BASE | {"secure": "true"},
}


def through_the_model(data: dict[str, Any]) -> SmtpConnector:
    """The connector as it was built before the plain check: the model validates the dict."""
    return SmtpConnector(SmtpConfig.model_validate(data))


@pytest.mark.parametrize("data", list(MISTAKES.values()), ids=list(MISTAKES))
def test_a_newcomers_mistake_gets_the_models_own_answer(data: dict[str, Any]) -> None:
    got = outcome(lambda: SmtpConnector(data))
    assert got == outcome(lambda: through_the_model(data))
    kind, message, _ = got
    if plain_config(data) is not None:  # read plain only where the model has nothing to say
        assert got == ("built", "", [])
    if kind == "error":
        assert message.startswith("Invalid SMTP config: ") and SECRET not in message


@pytest.mark.parametrize(
    "auth",
    [{"user": "me", "pass": [SECRET]}, {"user": "me", "pass": {"value": SECRET}},
     {"user": [SECRET], "pass": SECRET}, {"user": "me", "pass": SECRET, "extra": SECRET}],
    ids=["pass-list", "pass-dict", "user-list", "extra-key"],
)  # fmt: skip
def test_a_password_in_the_wrong_shape_is_never_echoed(auth: dict[str, Any]) -> None:
    data = BASE | {"auth": auth}
    assert plain_config(data) is None
    with pytest.raises(ConnectorError) as raised:
        SmtpConnector(data)
    error = raised.value
    for text in (error.message, str(error), repr(error), str(error.to_dict())):
        assert SECRET not in text


@pytest.mark.parametrize(
    "flags",
    [{"ignoreTLS": True}, {"secure": False, "port": 465}, {"ignoreTLS": True, "port": 25},
     {"requireTLS": True, "ignoreTLS": True}],
    ids=["ignoreTLS", "plain-on-465", "ignoreTLS-25", "require-and-ignore"],
)  # fmt: skip
def test_a_downgrade_beside_a_login_is_the_models_to_judge(flags: dict[str, Any]) -> None:
    data = BASE | {"auth": {"user": "me@example.com", "pass": SECRET}} | flags
    got = outcome(lambda: SmtpConnector(data))
    assert got == outcome(lambda: through_the_model(data))
    if plain_config(data) is not None:  # read plain only where the model has nothing to say
        assert got == ("built", "", [])


def test_thousands_of_keys_are_refused_by_the_model() -> None:
    data = BASE | {f"key{i}": "x" * 100 for i in range(5_000)}
    assert plain_config(data) is None
    with pytest.raises(ConnectorError) as raised:
        SmtpConnector(data)
    error = raised.value
    assert error.code.value == "invalid_config"
    # The first ten named, the count of the rest, every one in `details` (the message was
    # 418,909 characters, one clause per key).
    assert (
        len(error.message) < 2_000 and "`key9`" in error.message and "`key10`" not in error.message
    )
    assert "and 4,990 more problems" in error.message
    assert isinstance(error.details, list) and len(error.details) == 5_000
