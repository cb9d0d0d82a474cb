"""`SmtpConnector.check_preparation` (compose/send_plans.py): the analysis of the template a
check will choose, which a service runs in a thread before the check (store/precheck.py).
Hypothesis holds a connector that prepares each check to one that never does: the same
warnings and refusals over sequences of usage types, locales, payloads and template provider
saves; and once prepared, the check analyses no template on its own, and no preparation is
due."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConnector
from smtp_connector.compose.requirements import PayloadCheck

CONFIG = {
    "host": "mail.example.com", "port": 587, "fromEmail": "noreply@example.com",
    "templates": [
        {"usageType": "Register", "contentType": "text/plain", "subject": "Hi",
         "content": "{{ code }} {% if user %}{{ user.name }}{% endif %}"},
        {"usageType": "BindEmail", "contentType": "text/plain", "subject": "Bind",
         "content": "{{ code }}", "locale": "de"},
    ],
}  # fmt: skip


class Store:
    """A versioned template provider (as the service's AppTemplates)."""

    def __init__(self) -> None:
        self.templates: dict[tuple[str, str | None], dict[str, Any]] = {}
        self.version = 0

    def template(self, usage_type: str, locale: str | None) -> Any:
        return self.templates.get((usage_type, locale))

    def save(self, usage_type: str, locale: str | None, content: str) -> None:
        self.templates[(usage_type, locale)] = {"subject": "Saved", "content": content}
        self.version += 1


sends = st.tuples(
    st.sampled_from(["SignIn", "Register", "BindEmail", "OrganizationInvitation", "Regsiter"]),
    st.sampled_from([None, "de", "fr-CA", "ja"]),
    st.fixed_dictionaries({}, optional={"code": st.sampled_from(["123456", ""]),
                                        "user": st.just({"name": "Ann"}),
                                        "link": st.just("https://example.com/x"),
                                        # Logto's way: the locale in the payload, no argument
                                        "locale": st.sampled_from(["de", "ja", ""])}),
    st.sampled_from(["", "{{ code }}", "{% if user %}{{ user.name }}{% endif %}"]),
)  # fmt: skip


def _answer(connector: SmtpConnector, usage: str, locale: str | None, payload: Any) -> Any:
    try:
        return connector.check_payload(usage, payload, locale, allow_fallback=False)
    except ConnectorError as error:
        return (error.code, error.message, error.cause, error.details)


def _analyses(patch: pytest.MonkeyPatch) -> list[object]:
    """Templates analysed that were not analysed before, by any check, as they happen."""
    seen: list[object] = []
    facts_of = PayloadCheck._facts_of

    def recorded(self: PayloadCheck, template: Any) -> Any:
        if not self.knows(template):
            seen.append(template)
        return facts_of(self, template)

    patch.setattr(PayloadCheck, "_facts_of", recorded)
    return seen


@settings(max_examples=60, deadline=None)
@given(st.lists(sends, min_size=1, max_size=8))
def test_a_prepared_check_answers_as_an_unprepared_one(steps: list[tuple[Any, ...]]) -> None:
    store = Store()
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as patch:
        warnings.simplefilter("ignore")
        prepared = SmtpConnector(CONFIG, template_provider=store)
        plain = SmtpConnector(CONFIG, template_provider=store)  # a renderer (and check) of its own
        analysed = _analyses(patch)
        for usage, locale, payload, saved in steps:
            if saved:
                store.save(usage, locale, saved)
            preparation = prepared.check_preparation(usage, payload, locale)
            if preparation is not None:
                preparation()
            # nothing left to analyse
            assert prepared.check_preparation(usage, payload, locale) is None
            before = len(analysed)
            answer = _answer(prepared, usage, locale, payload)
            assert len(analysed) == before  # the check analysed nothing itself
            assert answer == _answer(plain, usage, locale, payload)


def test_a_warm_preparation_chooses_no_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a check has remembered its plan, the preparation reads the plan's template instead
    of choosing again (a provider's lookup per send); a provider save (a new version) makes it
    choose again, and the choice it then analyses is the new template."""
    from smtp_connector.compose.selection import TemplateSelector

    store = Store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        connector = SmtpConnector(CONFIG, template_provider=store)
    choices: list[tuple[str, str | None]] = []
    choose = TemplateSelector._choose

    def counted(self: TemplateSelector, usage: str, locale: str | None) -> Any:
        choices.append((usage, locale))
        return choose(self, usage, locale)

    monkeypatch.setattr(TemplateSelector, "_choose", counted)
    payload = {"code": "123456"}
    assert _answer(connector, "SignIn", "de", payload) == []  # remembers the plan
    choices.clear()
    for _ in range(3):
        assert connector.check_preparation("SignIn", payload, "de") is None
        assert _answer(connector, "SignIn", "de", payload) == []
    assert choices == []
    store.save("SignIn", "de", "{{ code }} saved")
    preparation = connector.check_preparation("SignIn", payload, "de")
    assert choices == [("SignIn", "de")]
    assert preparation is not None  # the saved template, not analysed yet
    saved = connector.template_choice("SignIn", "de").template
    assert preparation.args == (saved,)
