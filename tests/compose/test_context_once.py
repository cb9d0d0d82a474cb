"""The send's template context is made with one copy of the payload (`Composer._built_context`:
`normalise_context` on the composer's own copy) and equals the two-copy path it replaced,
`build_context(Composer._context(...))`: the same keys in the same order, the same values, the
same refusals (oversize payload, unsafe link, a code that cannot be text); and the payload the
caller gave is left as it was."""

from __future__ import annotations

import copy
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConnector
from smtp_connector.compose.payload import build_context

CONFIG = {"host": "mail.example.com", "port": 587, "fromEmail": "noreply@example.com",
          "fromName": "Shop", "maxPayloadBytes": 300}  # fmt: skip

values = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False),
    st.text(max_size=30), st.just("x" * 200), st.just(10 ** (sys.get_int_max_str_digits() + 1)),
    st.dictionaries(st.text(max_size=5), st.text(max_size=10), max_size=3),
    st.lists(st.integers(), max_size=4),
)  # fmt: skip
payloads = st.dictionaries(
    st.sampled_from(["code", "link", "locale", "application", "user", "expires_in_minutes",
                     "expiresInMinutes", "big", "other"]),
    st.one_of(values, st.sampled_from([" https://example.com/a ", "javascript:x", "/rel"])),
    max_size=6,
)  # fmt: skip


def _outcome(make: Any) -> Any:
    try:
        context = make()
    except ConnectorError as error:
        return ("refused", error.code, error.message, error.cause)
    return ("context", list(context.items()))


@settings(max_examples=300, deadline=None)
@given(payloads, st.sampled_from([None, "de", "fr-CA"]))
def test_one_copy_equals_two(payload: dict[str, Any], locale: str | None) -> None:
    connector = SmtpConnector(CONFIG)
    given_payload = copy.deepcopy(payload)
    once = _outcome(lambda: connector._built_context(payload, locale))
    twice = _outcome(lambda: build_context(connector._context(payload, locale), 300))
    assert once == twice
    assert payload == given_payload  # the caller's payload is not the context
