"""A template provider's choices remembered by the selector (compose/selection.py
`_provided_choice`) while the answers they were made of stand: hypothesis holds the remembered
choice equal to a fresh one (`_choose`, asking the provider's view) over sequences of choices,
saves (a new `version`), a provider that raises for a while, and interned templates dropped;
and a choice is not remembered across any of those."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConnector
from smtp_connector.compose import provider as provider_module

CONFIG = {"host": "mail.example.com", "port": 587, "fromEmail": "noreply@example.com",
          "templates": [{"usageType": "Register", "contentType": "text/plain", "subject": "Hi",
                         "content": "{{ code }}", "locale": "de"}]}  # fmt: skip


class Store:
    def __init__(self) -> None:
        self.templates: dict[tuple[str, str | None], dict[str, Any]] = {}
        self.version = 0
        self.failing = False

    def template(self, usage_type: str, locale: str | None) -> Any:
        if self.failing:
            raise RuntimeError("database away")
        return self.templates.get((usage_type, locale))


steps = st.one_of(
    st.tuples(st.just("choose"), st.sampled_from(["SignIn", "Register", "Generic", "Custom"]),
              st.sampled_from([None, "de", "fr"])),
    st.tuples(st.just("save"), st.sampled_from(["SignIn", "Generic", "Custom"]),
              st.sampled_from([None, "de"])),
    st.tuples(st.just("save quietly"), st.sampled_from(["SignIn", "Generic"]), st.just(None)),
    st.tuples(st.just("fail"), st.booleans(), st.just(None)),
)  # fmt: skip


def _fresh(selector: Any, usage: str, locale: str | None) -> Any:
    try:
        choice = selector._choose(usage, locale)
    except ConnectorError as error:
        return ("refused", error.code)
    return (choice.source, choice.template.usage_type, choice.template.subject)


def _remembered(selector: Any, usage: str, locale: str | None) -> Any:
    try:
        choice = selector.choose(usage, locale)
    except ConnectorError as error:
        return ("refused", error.code)
    return (choice.source, choice.template.usage_type, choice.template.subject)


@settings(max_examples=200, deadline=None)
@given(st.lists(steps, max_size=25), st.sampled_from([1, 2, 1024]))
def test_a_remembered_choice_equals_a_fresh_one(plan: list[Any], kept: int) -> None:
    store = Store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        provider_module.MAX_REMEMBERED, before = kept, provider_module.MAX_REMEMBERED
        try:
            selector = SmtpConnector(CONFIG, template_provider=store)._selector
            for number, (kind, first, locale) in enumerate(plan):
                if kind == "fail":
                    store.failing = first
                elif kind.startswith("save"):
                    store.templates[(first, locale)] = {"subject": f"s{number}", "content": "x"}
                    if kind == "save":  # "save quietly": a provider that forgot its version
                        store.version += 1
                else:  # twice: the first may find the view at a new version
                    _remembered(selector, first, locale)
                    assert _remembered(selector, first, locale) == _fresh(selector, first, locale)
        finally:
            provider_module.MAX_REMEMBERED = before


def test_a_failing_provider_is_asked_again() -> None:
    """A choice made while the provider raised (the config's template answered) is not kept:
    once the provider answers again, its template is chosen, without a new version."""
    store = Store()
    store.templates[("Register", "de")] = {"subject": "Stored", "content": "{{ code }}"}
    selector = SmtpConnector(CONFIG, template_provider=store)._selector
    store.failing = True
    assert selector.choose("Register", "de").source == "config"
    store.failing = False
    assert selector.choose("Register", "de").source == "provider"
    store.version += 1
    store.templates[("Register", "de")] = {"subject": "Saved", "content": "{{ code }}"}
    assert selector.choose("Register", "de").template.subject == "Saved"
