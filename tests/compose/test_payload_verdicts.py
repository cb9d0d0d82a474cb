"""The payload check's remembered verdicts (compose/verdict_keys.py, requirements.py) answer as
a render of every payload would: over sequences of payloads (absent names, None, "", " ", 0,
False, -0.0, nested mappings, lists, unicode keys, extra keys, a `locale` of their own) against
templates that read nested values, branch on values and types, loop, capture output in
`{% set %}` blocks and macros, and fail to render for some payloads. And what is remembered
stays bounded whatever shapes a caller sends."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConnector
from smtp_connector.compose.limits import RenderLimits
from smtp_connector.compose.requirements import MAX_VERDICTS, PayloadCheck
from smtp_connector.compose.verdict_keys import MAX_BYTES
from smtp_connector.config import EmailTemplate

SOURCES = [
    "{{ code }} {% if user.admin %}{{ greeting }}{% endif %}",
    "{% for item in items %}{{ item.name }}{{ label }}{% endfor %}{{ code }}",
    "{% if locale == 'de' %}{{ name }}{% else %}{{ title | default('x') }}{% endif %}{{ code }}",
    "{% set note %}{{ code }}{% endset %}{% if note | length > 3 %}{{ extra }}{% endif %}",
    "{{ application.name if application and application.name else 'app' }} "
    "{% if user is mapping %}{{ user.name }}{% else %}{{ nick }}{% endif %}",
    "{% macro m(v) %}{% if v %}{{ v }}{% else %}{{ fallback }}{% endif %}{% endmacro %}"
    "{{ m(code) }}{{ m(user) }}",
    "{% if count > 2 %}{{ many }}{% endif %}{{ code or other }}",  # fails for a str count
    "{{ 'ü' }}{{ ünï }}{% if flags[0] %}{{ first }}{% endif %}{{ code }}",
    "{% if not user %}{{ anon }}{% endif %}{{ (code ~ '') | length }}"
    "{% if items | length %}{{ has }}{% endif %}",
    "{%- set app = (application.name if application and application.name else (application if "
    "application is string and application else 'your account')) -%}{{ code }} {{ app }}"
    "{% if user is defined %}{{ user }}{% endif %}{{ greeting if user else label }}",
    "{{ code }}{% if items is sequence and items[1] is sameas true %}{{ label }}{% endif %}"
    "{% if count | string == '-0.0' %}{{ many }}{% endif %}",
]
TEMPLATES = [
    EmailTemplate.model_validate(
        {"usageType": "SignIn", "contentType": "text/plain", "subject": "S", "content": source}
    )
    for source in SOURCES
]
NAMES = ["code", "user", "greeting", "items", "label", "locale", "name", "title", "extra",
         "application", "nick", "fallback", "count", "many", "other", "ünï", "flags", "first",
         "anon", "has", "Code", "zzz"]  # fmt: skip
scalars = st.sampled_from([None, "", " ", "ab", "abcd", "de", 0, 2, 3, 1.0, -0.0, 0.0, True, False])
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.tuples(inner)
        | st.dictionaries(st.sampled_from(["name", "admin", 1]), inner, max_size=2)
    ),
    max_leaves=4,
)
payloads = st.dictionaries(st.sampled_from(NAMES), values, max_size=8)


def _whole(check: PayloadCheck, template: EmailTemplate, context: dict[str, Any]) -> list[str]:
    """The check with nothing remembered: its render every time."""
    check._verdicts.clear()
    return check.missing(template, context)


def _reads(template: EmailTemplate) -> list[str]:
    check = PayloadCheck(RenderLimits())
    check.missing(template, {})
    return list(check._facts[id(template)][1].reads)


READS = [_reads(template) for template in TEMPLATES]
DROP = object()  # a change that drops the name from the payload


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(range(len(TEMPLATES))), st.data())
def test_remembered_verdicts_are_the_renders_verdicts(index: int, data: st.DataObject) -> None:
    """Payloads for one template over the names it reads (and two it does not), each a base
    payload with one value changed or dropped, so that payloads of one shape meet often."""
    template = TEMPLATES[index]
    keys = st.sampled_from([*READS[index], "zzz"])
    base = data.draw(st.dictionaries(keys, values, max_size=6))
    changes = data.draw(st.lists(st.tuples(keys, scalars | values | st.just(DROP)), max_size=30))
    remembered, whole = PayloadCheck(RenderLimits()), PayloadCheck(RenderLimits())
    for key, value in changes:
        payload = {k: v for k, v in (base | {key: value}).items() if v is not DROP}
        expected = _whole(whole, template, payload)
        assert remembered.missing(template, payload) == expected
        assert remembered.missing(template, payload) == expected  # and once remembered
        if not any(payload.get(name) is None for name in READS[index]):  # nothing blank
            assert whole.rendered(whole._facts[id(template)][1], payload)[0] == ()


@pytest.mark.parametrize(
    ("index", "steps"),
    [  # payloads of one (type, truth) shape whose verdicts differ: the key must tell them apart
        (0, [{"code": "1", "user": {"admin": False}}, {"code": "1", "user": {"admin": True}}]),
        (1, [{"code": "1", "items": []}, {"code": "1", "items": [{"name": "a"}]}]),
        (2, [{"code": "1", "locale": "en"}, {"code": "1", "locale": "de"}]),
        (3, [{"code": "ab"}, {"code": "abcd"}]),  # a value printed into a `{% set %}` block
        (4, [{"application": "Shop"}, {"application": {"name": "Shop"}}, {"user": {"a": 1}}]),
        (5, [{"code": "1", "user": "Ann"}, {"code": "1", "user": ""}]),  # a macro's argument
        (8, [{"code": "1", "user": ""}, {"code": "1", "user": "ab"}]),  # `not user`: its truth
        (
            10,
            [
                {"code": "1", "items": [1, 1]},
                {"code": "1", "items": [1, True]},
                {"code": "1", "count": 0.0},
                {"code": "1", "count": -0.0},
            ],
        ),
    ],
)
def test_values_that_steer_a_render_are_told_apart(index: int, steps: list[Any]) -> None:
    template = TEMPLATES[index]
    remembered, whole = PayloadCheck(RenderLimits()), PayloadCheck(RenderLimits())
    verdicts = [_whole(whole, template, payload) for payload in steps]
    assert len({tuple(verdict) for verdict in verdicts}) > 1  # the case is worth its place
    assert [remembered.missing(template, payload) for payload in steps] == verdicts


def test_a_render_that_failed_is_not_remembered() -> None:
    """A render stopped by a limit (here a value over `max_chars`) printed only part of what it
    would: its verdict is not kept for the payloads of its shape that render whole."""
    check = PayloadCheck(RenderLimits(max_chars=1000))
    template = EmailTemplate.model_validate(
        {"usageType": "SignIn", "contentType": "text/plain", "subject": "S",
         "content": "{{ code }} {{ other }}"}
    )  # fmt: skip
    assert check.missing(template, {"code": "x" * 2000}) == []  # stopped at `code`
    assert check.missing(template, {"code": "x"}) == ["other"]


CONFIG = {"host": "mail.example.com", "port": 587, "fromEmail": "noreply@example.com",
          "templates": [{"usageType": usage, "contentType": "text/plain", "subject": "S",
                         "content": source, "locale": "en"}
                        for usage, source in zip(["SignIn", "Register", "BindMfa"], SOURCES[:3],
                                                 strict=True)]}  # fmt: skip


def _answer(connector: SmtpConnector, usage: str, payload: dict[str, Any]) -> tuple[Any, ...]:
    try:
        return ("ok", connector.check_payload(usage, payload, allow_fallback=False))
    except ConnectorError as error:
        return ("refused", error.code, error.message, error.cause, error.details)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["SignIn", "Register", "BindMfa"]), payloads),
                max_size=10))  # fmt: skip
def test_check_payload_answers_as_with_nothing_remembered(steps: list[tuple[str, Any]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        planned, whole = SmtpConnector(CONFIG), SmtpConnector(CONFIG)
    assert planned._plans._checker is not whole._plans._checker
    for usage, payload in steps:
        whole._plans.clear()
        whole._plans._checker._verdicts.clear()
        assert _answer(planned, usage, payload) == _answer(whole, usage, payload)


def test_distinct_shapes_do_not_grow_what_is_remembered() -> None:
    """An outsider sending a new shape each time (a new compared value, a long one, a new set
    of names) leaves at most MAX_VERDICTS verdicts, each key of bounded size."""
    check = PayloadCheck(RenderLimits())
    template = EmailTemplate.model_validate({
        "usageType": "SignIn", "contentType": "text/plain", "subject": "S",
        "content": "{% if n == 1 %}{{ a }}{% endif %}{% if m %}{{ b }}{% endif %}{{ code }}",
    })  # fmt: skip
    for i in range(3 * MAX_VERDICTS):
        check.missing(template, {"code": "1", "n": i, "m": [i] * (i % 3)})
        check.missing(template, {"code": "1", "n": "x" * (MAX_BYTES + i)})  # too long to keep
        assert len(check._verdicts) <= MAX_VERDICTS
    assert all(len(repr(key)) < 2 * MAX_BYTES for key in check._verdicts)
    assert check.missing(template, {"code": "1", "n": 1}) == ["a"]
    assert check.missing(template, {"code": "1", "n": 2, "m": [0]}) == ["b"]
