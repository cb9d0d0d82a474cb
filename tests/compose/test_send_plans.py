"""`check_payload` with remembered plans (compose/send_plans.py) answers as the whole path:
the same warnings, the same refusals (code, message, cause, details), in the same order, over
sequences of sends mixing usage types (known, custom with a template, misspelt), locales,
payloads (missing, blank, oversize values, bad links, a locale of their own), recipients,
`allow_fallback`, and template provider snapshots that change between sends."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConnector


class Store:
    """A template provider with a snapshot and a `version` (as the service's AppTemplates)."""

    def __init__(self, versioned: bool) -> None:
        self.templates: dict[tuple[str, str | None], dict[str, Any]] = {}
        if versioned:
            self.version = 0

    def template(self, usage_type: str, locale: str | None) -> Any:
        return self.templates.get((usage_type, locale))

    def save(self, usage_type: str, locale: str | None, content: str) -> None:
        self.templates[(usage_type, locale)] = {"subject": "Saved", "content": content}
        if hasattr(self, "version"):
            self.version += 1


CONFIG = {
    "host": "mail.example.com", "port": 587, "fromEmail": "noreply@example.com",
    "maxPayloadBytes": 400,
    "templates": [
        {"usageType": "Register", "contentType": "text/plain", "subject": "Hi",
         "content": "{{ code }} {% if user %}{{ user.name }}{% endif %}"},
        {"usageType": "BindEmail", "contentType": "text/plain", "subject": "Bind",
         "content": "{{ code }}", "locale": "de"},
        {"usageType": "SignIn", "contentType": "text/plain", "subject": "no code here",
         "content": "{{ greeting }}", "locale": "fr"},  # a load-time warning: no code shown
    ],
}  # fmt: skip
# Few of each, so that a sequence asks again for what a save in between changed.
USAGES = ["SignIn", "Register", "OrganizationInvitation", "BindEmail", "Regsiter", "Custom"]
LOCALES = [None, "de", "fr-CA", ""]
payloads = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from(["123456", "", None, 42, " "]),
        "link": st.sampled_from(["https://example.com/x", "javascript:alert(1)", ""]),
        "locale": st.sampled_from(["de", "fr", "", 7]),
        "user": st.sampled_from([{"name": "Ann"}, None, ""]),
        "greeting": st.sampled_from(["hi", "", None]),
        "big": st.sampled_from(["x", "x" * 500]),
        "Code": st.just("1"),
    },
)
sends = st.tuples(
    st.sampled_from(USAGES), st.sampled_from(LOCALES), payloads,
    st.sampled_from(["u@example.org", "bad address", "A <a@example.org>"]), st.booleans(),
    st.sampled_from(["", "{{ code }}", "{{ greeting }}"]),  # saved for this (usage, locale) first
)  # fmt: skip


def _answer(connector: SmtpConnector, send: tuple[Any, ...]) -> tuple[Any, ...]:
    usage, locale, payload, to, allow_fallback, _ = send
    try:
        return ("ok", connector.check_payload(usage, payload, locale, to=to,
                                              allow_fallback=allow_fallback))  # fmt: skip
    except ConnectorError as error:
        return ("refused", error.code, error.message, error.cause, error.details)


@settings(max_examples=150, deadline=None)
@given(st.lists(sends, min_size=1, max_size=16), st.booleans())
def test_remembered_plans_answer_as_the_whole_path(
    steps: list[tuple[Any, ...]], versioned: bool
) -> None:
    store = Store(versioned)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        planned = SmtpConnector(CONFIG, template_provider=store)
        whole = SmtpConnector(CONFIG, template_provider=store)
        for step in steps:
            if step[-1]:
                store.save(step[0], step[1], step[-1])
            whole._plans.clear()  # the whole path: choice and fallback checked again
            assert _answer(planned, step) == _answer(whole, step)
            assert _answer(planned, step) == _answer(whole, step)  # and once remembered
