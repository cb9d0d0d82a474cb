"""Logto's `templates` read without pydantic (config/core.py `_template`): a template list the
plain check takes is the model's, field by field and rule by rule, and renders the same; one
it is not sure of leaves the whole config to the model, whose errors and warnings stay its own.

What a template may be, for the plain check: `{usageType, contentType?, subject, content}`
with plain `str` values, a known usage type and a content type spelt as `EmailTemplate` reads
them, and a body. Whitespace, HTML, `{{code}}` and `<<code>>` are compose's, the same code for
both kinds, so they are drawn here as given and compared rendered."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_core_config import assert_same, validated

from smtp_connector import SmtpConnector
from smtp_connector.config import SmtpConfig
from smtp_connector.config.core import MAX_PLAIN_TEMPLATES, plain_config
from smtp_connector.config.records import ConfigTemplate, PlainConfig
from smtp_connector.errors import ConnectorError
from smtp_connector.usage import KNOWN_USAGE_TYPES, ContentType

BASE = {"host": "127.0.0.1", "port": 2525, "fromEmail": "noreply@example.com"}

USAGE = st.one_of(
    st.sampled_from(KNOWN_USAGE_TYPES),
    # doubtful: the model takes some (custom types), refuses others (""), changes none
    st.sampled_from(["signin", " SignIn", "SignIn ", "SIGN_IN", "Regsiter", "Custom", "", "Ü"]),
    st.sampled_from([None, 3, ["SignIn"], ContentType.TEXT]),
)
KIND = st.one_of(
    st.sampled_from(["text/plain", "text/html"]),
    st.sampled_from(["TEXT/PLAIN", "text/html; charset=utf-8", " text/plain", "html", ""]),
    st.sampled_from([None, ContentType.HTML, 1]),
)
TEXT = st.one_of(
    st.sampled_from(
        [
            "Your code is {{code}}.",
            "Code: <<code>>",
            "  {{    code }}  \n",
            "<p>Hi <b>{{ code }}</b> &amp; {{ application.name }}</p>",
            "{% if locale %}{{ locale }}{% endif %} {{ code }}",
            "{{ code | upper }}",
            "{{ broken",
            "<<code>> and <<link>>",
            "line\r\nbreak {{code}}",
            "\u2028{{code}}\x00",
        ]
    ),
    st.text(max_size=12),
)
TEMPLATE = st.fixed_dictionaries(
    {"usageType": USAGE, "subject": TEXT, "content": st.one_of(TEXT, st.none(), st.just(""))},
    optional={
        "contentType": KIND,
        # keys the plain check leaves to the model
        "locale": st.sampled_from(["de", "en-US", " fr", None]),
        "textContent": TEXT,
        "htmlContent": TEXT,
        "sendFrom": st.sampled_from(["x@example.com", "{{ user.email }}", "bad"]),
        "replyTo": st.just("help@example.org"),
        "usage_type": st.just("SignIn"),
        "Subject": st.just("x"),
    },
)
# Most draws: a valid Logto template, to compare accepted configs often.
VALID = st.fixed_dictionaries(
    {"usageType": st.sampled_from(KNOWN_USAGE_TYPES), "subject": TEXT, "content": TEXT},
    optional={"contentType": st.sampled_from(["text/plain", "text/html"])},
).filter(lambda t: t["content"] != "")
TEMPLATES = st.lists(st.one_of(VALID, VALID, VALID, TEMPLATE), max_size=5)
EXTRA = st.fixed_dictionaries(
    {},
    optional={
        "fromName": st.sampled_from(["Acme", None]),
        "customHeaders": st.sampled_from([{}, {"X-Tag": "a"}, None, []]),
        "ignoreTLS": st.booleans(),
        "auth": st.just({"user": "u", "pass": "p"}),
    },
)
PAYLOAD = {"code": "424242", "link": "https://x.example/l", "application": {"name": "Ac&me"}}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates=TEMPLATES | st.sampled_from([None, {}, "x", [None], [[]]]), extra=EXTRA)
@example(templates=[], extra={"customHeaders": {}})
@example(templates=[{"usageType": "SignIn", "subject": "s", "content": ""}], extra={})
@example(templates=[{"usageType": "", "subject": "s", "content": "c"}], extra={})
@example(
    templates=[
        {"usageType": "SignIn", "contentType": "TEXT/PLAIN", "subject": "s", "content": "c"}
    ],
    extra={},
)
@example(
    templates=[{"usageType": "SignIn", "subject": "s", "content": "c", "locale": "de"}], extra={}
)
def test_plain_templates_defer_or_equal_the_model(templates: Any, extra: dict[str, Any]) -> None:
    data = {**BASE, **extra, "templates": templates}
    plain = plain_config(data)
    model, warned = validated(data)
    if plain is None:
        return
    assert model is not None, "the plain check took templates the model refuses"
    assert warned == []
    assert_same(plain, model)
    assert all(type(t) is ConfigTemplate for t in plain.templates)
    assert plain.model().to_dict(reveal_secrets=True) == model.to_dict(reveal_secrets=True)
    _renders_alike(data, model)


def _connector(config: Any) -> tuple[SmtpConnector | None, str | None, list[str]]:
    """A connector (or the error building it gave) and the template warnings it issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            connector = SmtpConnector(config)
        except ConnectorError as error:
            return None, error.to_dict()["message"], [str(w.message) for w in caught]
    return connector, None, [str(w.message) for w in caught]


def _renders_alike(data: dict[str, Any], model: SmtpConfig) -> None:
    """Built from the dict (plain) and from its model: the same load errors and template
    warnings, and every usage type renders the same subject, text, HTML and sender."""
    plain, plain_error, plain_warned = _connector(data)
    other, model_error, model_warned = _connector(model)
    assert (plain_error, plain_warned) == (model_error, model_warned)
    if plain is None or other is None:
        return
    assert isinstance(plain._config, PlainConfig)
    for usage in KNOWN_USAGE_TYPES:
        for locale in (None, "de"):
            mine, theirs = _render(plain, usage, locale), _render(other, usage, locale)
            assert mine == theirs, (usage, locale)


def _render(connector: SmtpConnector, usage: str, locale: str | None) -> Any:
    try:
        email = connector.render(usage, PAYLOAD, locale, to="user@example.org")
    except ConnectorError as error:
        return error.to_dict()
    return (email.subject, email.text, email.html, str(email.from_address), email.reply_to)


def test_logto_configs_are_read_plain() -> None:
    """Logto's connector-smtp config (its upstream mock's shape, tests/logto_mocks.py) and
    the connector's own Logto-shaped examples take the plain path."""
    from logto_mocks import MOCKED_CONFIG

    usual = [
        {**MOCKED_CONFIG, "host": "smtp.example.com", "fromEmail": "notice@example.com"},
        {
            **BASE,
            "fromName": "Acme",
            "auth": {"user": "apikey", "pass": "s3cret"},
            "templates": [
                {"usageType": u, "contentType": "text/html", "subject": "s", "content": "<<code>>"}
                for u in KNOWN_USAGE_TYPES
            ],
        },
    ]
    for data in usual:
        plain = plain_config(data)
        assert plain is not None, data
        assert_same(plain, SmtpConfig.model_validate(data))


@pytest.mark.parametrize(
    "template",
    [
        {"usageType": "Custom", "subject": "s", "content": "c"},  # warned about by compose
        {"usageType": "signin", "subject": "s", "content": "c"},  # a near miss: warned
        {"usageType": "SignIn", "subject": "s", "content": "c", "locale": "de"},
        {"usageType": "SignIn", "subject": "s", "textContent": "c"},
        {"usageType": "SignIn", "contentType": "text/HTML", "subject": "s", "content": "c"},
        {"usageType": "SignIn", "subject": b"s", "content": "c"},
        {"usage_type": "SignIn", "subject": "s", "content": "c"},
    ],
)
def test_a_doubtful_template_leaves_the_config_to_the_model(template: dict[str, Any]) -> None:
    assert plain_config({**BASE, "templates": [template]}) is None


def test_a_newcomers_empty_template_gets_the_models_error() -> None:
    """The first mistake (a template without its body) is the model's message, plain or not."""
    data = {**BASE, "templates": [{"usageType": "SignIn", "subject": "Your code"}]}
    assert plain_config(data) is None
    with pytest.raises(ConnectorError) as caught:
        SmtpConnector(data)
    assert "templates" in caught.value.message and "no body" in caught.value.message


def test_hostile_template_lists_are_bounded_and_copied() -> None:
    """A list longer than the cap goes to the model (the plain check costs no more than it
    saves); a huge body is taken as given, as the model does; the caller's dicts are copied,
    so changing them after the build changes neither the plain config nor its model."""
    one = {"usageType": "SignIn", "subject": "s", "content": "c"}
    assert plain_config({**BASE, "templates": [one] * MAX_PLAIN_TEMPLATES}) is not None
    assert plain_config({**BASE, "templates": [one] * (MAX_PLAIN_TEMPLATES + 1)}) is None
    huge = {"usageType": "SignIn", "subject": "s", "content": "{{code}}" + "x" * 2_000_000}
    plain = plain_config({**BASE, "templates": [huge]})
    assert plain is not None and plain.templates[0].content == huge["content"]
    given_templates = [dict(one)]
    data = {**BASE, "templates": given_templates}
    plain = plain_config(data)
    assert plain is not None
    given_templates[0]["content"] = "changed"
    given_templates.append(dict(one))
    assert plain.templates[0].content == "c" and len(plain.templates) == 1
    assert plain.model().templates[0].content == "c" and len(plain.model().templates) == 1
