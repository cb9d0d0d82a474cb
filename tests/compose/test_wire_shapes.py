"""A proven shape's body as wire bytes with slots (compose/wire.py): the message a skeleton
gives — its bytes and its dot-stuffed DATA payload — is byte for byte the full path's, and
every value a skeleton cannot carry takes the full path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtp_connector import SmtpConnector
from smtp_connector.compose import message
from smtp_connector.delivery.transaction import dot_stuff

BASE: dict[str, Any] = {"host": "smtp.example.com", "fromEmail": "noreply@example.com"}
TEMPLATES = [
    {  # values at the start of lines, lines starting with dots, CRLF and a long line
        "usageType": "Generic",
        "subject": "{{ code }}",
        "textContent": "{{ code }}\r\n.{{ code }}\n..\n{{ user.name }} and {{ code }}\n"
        + "x" * 900
        + "{{ code }}\n.",
        "htmlContent": "<p>\n.{{ user.name }}</p>\n{{ code }}<b>{{ code }}</b>",
    },
]
FAST = SmtpConnector(BASE | {"templates": TEMPLATES})
FULL = SmtpConnector(BASE | {"templates": TEMPLATES, "composeCache": False})


@pytest.fixture(scope="module", autouse=True)
def compose_path() -> str:
    """This module compares the two paths itself (overrides the conftest's parametrisation)."""
    return "shape"


@pytest.fixture(autouse=True)
def _one_boundary() -> Iterator[None]:
    """The same boundary and Message-ID token on both paths, so whole messages compare."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(message, "unique_token", lambda: "fixedtoken")
        yield


def both(usage: str, payload: dict[str, Any]) -> tuple[Any, Any]:
    fast = FAST.render(usage, payload, "en", to="user@example.org")
    full = FULL.render(usage, payload, "en", to="user@example.org")
    full.date = fast.date
    full.message_id = fast.message_id  # its seconds are the clock's: the renders may straddle one
    return fast, full


values = st.one_of(
    st.from_regex(r"[0-9A-Za-z]{1,12}", fullmatch=True),
    st.text(max_size=30),
    st.sampled_from([".", ".leading", "a.b", "&<>\"'", "tab\t", "x" * 120, "é", "\r\n.\r\n"]),
)


@settings(max_examples=300, deadline=None, database=None)
@given(code=values, name=values, usage=st.sampled_from(["Generic", "SignIn", "Register"]))
@example(code="123456", name="Ann", usage="Generic")
@example(code=".5", name=".x", usage="Generic")
def test_a_skeletons_message_and_payload_are_the_full_paths(
    code: str, name: str, usage: str
) -> None:
    fast, full = both(usage, {"code": code, "user": {"name": name}})
    data = fast.as_bytes()
    assert data == full.as_bytes()
    payload = fast.wire_payload(data)
    if payload is not None:
        assert payload == dot_stuff(data)
    assert full.wire_payload(full.as_bytes()) is None


def test_plain_values_take_the_skeleton_and_others_do_not() -> None:
    for usage in ("Generic", "SignIn"):
        fast, _ = both(usage, {"code": "424242", "user": {"name": "Ann"}})
        assert fast.wire_payload(fast.as_bytes()) is not None
        for odd in (".424242", "42\t42", "4242é", "42\n42"):
            fast, full = both(usage, {"code": odd, "user": {"name": "Ann"}})
            assert fast.wire_payload(fast.as_bytes()) is None
            assert fast.as_bytes() == full.as_bytes()


def test_signed_or_replaced_bytes_get_no_precomputed_payload() -> None:
    fast, _ = both("SignIn", {"code": "424242"})
    data = fast.as_bytes()
    assert fast.wire_payload(b"DKIM-Signature: x\r\n" + data) is None
    copy = data[:1] + data[1:]  # equal bytes, another object: not known to be the composition
    assert fast.crlf_only(data) and not fast.crlf_only(copy)
    assert fast.wire_payload(copy) is None
