"""The per-message shortcuts of rendering held to the general path they skip: the selector
taking a str usage key as it is (`usage_key` for anything else), `build_context` not calling
`require_mapping` for a dict, and a wire-filled `Filled` built without its `__new__`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConnector, UsageType
from smtp_connector.compose import shapes
from smtp_connector.compose.payload import build_context
from smtp_connector.compose.selection import TemplateSelector
from smtp_connector.usage import usage_key

CONFIG: dict[str, Any] = {
    "host": "smtp.example.com",
    "fromEmail": "noreply@example.com",
    "templates": [{"usageType": "Custom", "subject": "{{ code }}", "content": "c {{ code }}"}],
}


class _Key(str):
    """A str subclass a caller might pass: the general path makes it a plain str."""


_USAGES = st.one_of(
    st.sampled_from(list(UsageType)),
    st.sampled_from([u.value for u in UsageType] + ["Custom", "custom", ""]),
    st.text(max_size=12),
    st.sampled_from([u.value for u in UsageType] + ["Custom"]).map(_Key),
)


def _outcome(call: Any) -> Any:
    try:
        return call()
    except ConnectorError as error:
        return ("error", error.code, error.message)


def _choice(selector: TemplateSelector, usage: Any, locale: str | None) -> Any:
    chosen = _outcome(lambda: selector.choose(usage, locale))
    return chosen if isinstance(chosen, tuple) else (chosen.template, chosen.source)


@settings(max_examples=150, deadline=None)
@given(usage=_USAGES, locale=st.sampled_from([None, "en", "de", "fr-CA"]))
def test_a_usage_key_chooses_what_its_general_form_chooses(usage: Any, locale: Any) -> None:
    """The same choice (or error) as with `usage_key(usage)`, memoised under a plain str, and
    a rendered email's usage type is that plain str."""
    selector = TemplateSelector([], "en")
    general = TemplateSelector([], "en")
    assert _choice(selector, usage, locale) == _choice(general, usage_key(usage), locale)
    assert all(type(key[0]) is str for key in selector._chosen)
    assert list(selector._chosen) == list(general._chosen)
    connector = SmtpConnector(CONFIG)
    email = _outcome(lambda: connector.render(usage, {"code": "123456"}, locale))
    if not isinstance(email, tuple):
        assert email.usage_type == usage_key(usage)
        assert type(email.usage_type) is str


_VALUES = st.recursive(
    st.one_of(st.text(max_size=8), st.integers(), st.none(), st.booleans()),
    lambda inner: st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_PAYLOADS = st.dictionaries(
    st.sampled_from(["code", "link", "expires_in_minutes", "expiresInMinutes", "user", "x"]),
    _VALUES,
    max_size=5,
)


def _as_given(payload: dict[str, Any], how: str) -> Any:
    return {"dict": payload, "proxy": MappingProxyType(payload), "list": list(payload)}[how]


def _general_context(payload: Any) -> Any:
    """`build_context` as it was: `require_mapping` first, whatever the payload's type."""
    from smtp_connector.compose import payload as module

    module.require_mapping(payload)
    return build_context(dict(payload) if isinstance(payload, Mapping) else payload, 1 << 20)


@settings(max_examples=150, deadline=None)
@given(payload=_PAYLOADS, how=st.sampled_from(["dict", "proxy", "list"]))
def test_build_context_checks_every_payload_as_before(payload: dict[str, Any], how: str) -> None:
    """The same context, or the same error, for a dict, another mapping and a non-mapping."""
    given_payload = _as_given(payload, how)
    assert _outcome(lambda: build_context(given_payload, 1 << 20)) == _outcome(
        lambda: _general_context(given_payload)
    )


@pytest.fixture
def _filled_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Each `_filled` result, beside what `Filled(...)` gives for a wire fill of its subject."""
    calls: list[Any] = []
    real = shapes._filled

    def recording(*args: Any) -> Any:
        out = real(*args)
        subject = out[0][0]
        calls.append((out, shapes.Filled([subject, None, None], (), out[2])))
        return out

    monkeypatch.setattr(shapes, "_filled", recording)
    yield calls


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(code=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8))
def test_a_wire_filled_message_is_a_plain_filled(
    _filled_calls: list[Any], compose_path: str, code: str
) -> None:
    """What the shortcut builds is a `Filled` equal to the one its constructor builds (on the
    `full` path no shape is filled)."""
    _filled_calls.clear()
    SmtpConnector({"host": "smtp.example.com", "fromEmail": "noreply@example.com"}).render(
        "SignIn", {"code": code, "application": {"name": "Acme"}}, to="a@example.org"
    )
    assert bool(_filled_calls) == (compose_path == "shape")
    for out, general in _filled_calls:
        assert type(out) is shapes.Filled
        assert out == general and out.wire is general.wire
        assert out.wire is not None


_LOCALE_CONFIG: dict[str, Any] = {
    **CONFIG,
    "templates": [
        {"usageType": "SignIn", "subject": "en {{ locale }}", "content": "{{ code }}"},
        {"usageType": "SignIn", "locale": "de", "subject": "de {{ locale }}", "content": "c"},
    ],
}


@settings(max_examples=200, deadline=None)
@given(
    locale=st.sampled_from([None, "", "de", "fr-CA"]),
    own=st.sampled_from(["absent", None, "", "de", "es", 5]),
    mapping=st.booleans(),
)
def test_a_payloads_own_locale_is_taken_as_before(locale: Any, own: Any, mapping: bool) -> None:
    """`render` looks for the payload's locale only when it has one (wire-11): the locale it
    renders with is `locale or payload_locale(payload)`, as written before, for a dict or
    another mapping, with or without a `locale` key of any value."""
    from smtp_connector.compose.composer import payload_locale

    connector = SmtpConnector(_LOCALE_CONFIG)
    given_payload: dict[str, Any] = {"code": "123456"}
    if own != "absent":
        given_payload["locale"] = own
    payload = given_payload if not mapping else MappingProxyType(given_payload)
    email = connector.render("SignIn", payload, locale)
    expected = connector.render("SignIn", payload, locale or payload_locale(payload))
    assert (email.locale, email.subject, email.text) == (
        expected.locale,
        expected.subject,
        expected.text,
    )
