"""A proven shape's body as wire bytes with slots, and the whole message as one format with
its headers (compose/wire.py): the message a skeleton gives — its bytes and its dot-stuffed
DATA payload — is byte for byte the full path's, and every value a skeleton cannot carry takes
the full path."""

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


# -- The whole message: headers with the body (`wire.MessageFormat`) ---------------------------
# Headers and body filled in one formatting are byte for byte what the full path writes — for
# senders with and without display names (non-ASCII, quoted, with `%`), Reply-To, custom
# headers, recipients that need quoting, RFC 2047, IDN or folding, and subjects that need
# encoding or folding — and the DATA payload is the dot-stuffed message.

FORMAT_TEMPLATES = [
    {
        "usageType": "Generic",
        "subject": "{{ code }} is your code for {{ user.name }}",
        "textContent": "Code: {{ code }}\n{{ user.name }}, 100% yours\n",
        "htmlContent": "<p>{{ code }}</p><p>{{ user.name }} &amp; 100%</p>",
    },
    {  # a line of the template starts with a dot: the general path stuffs it
        "usageType": "Register",
        "subject": "{{ code }}",
        "textContent": "{{ code }}\n.{{ user.name }}\n",
        "htmlContent": "<p>{{ code }}</p>",
    },
    {
        "usageType": "SignIn",
        "subject": "Sign in" + " word" * 20 + " {{ code }}",  # folds at 78 columns
        "textContent": "{{ code }}",
        "htmlContent": "<b>{{ code }}</b>",
    },
]
SENDERS: list[dict[str, Any]] = [
    {"fromEmail": "noreply@example.com"},
    {"fromEmail": "noreply@example.com", "fromName": "Acme", "replyTo": "Help <help@ex.com>"},
    {"fromEmail": "noreply@example.com", "fromName": "Äcme Ünïcode Corp", "replyTo": "h@ex.com"},
    {"fromEmail": "noreply@example.com", "fromName": "100% Acme, Inc."},
    {"fromEmail": "noreply@example.com", "customHeaders": {"X-Tag": "a%sb", "X-Two": ["1", "2"]}},
]
CONNECTORS = [
    tuple(
        SmtpConnector({"host": "smtp.example.com", "templates": FORMAT_TEMPLATES} | sender | extra)
        for extra in ({}, {"composeCache": False})
    )
    for sender in SENDERS
]
RECIPIENTS: list[str | list[str]] = [
    "user@example.org",
    "Ann <ann@example.org>",
    '"Doe, Jane" <jane@example.org>',
    "Zoë Ünïcode <zoe@example.org>",
    "x@bücher.de",
    "用户@example.org",  # a non-ASCII local part: SMTPUTF8, Unicode headers
    [f"person{i}@example.org" for i in range(6)],  # one mailbox per folded line
]


def both_of(
    sender: int, usage: str, payload: dict[str, Any], to: str | list[str]
) -> tuple[Any, Any]:
    fast_connector, full_connector = CONNECTORS[sender]
    fast = fast_connector.render(usage, payload, "en", to=to)
    full = full_connector.render(usage, payload, "en", to=to)
    full.date, full.message_id = fast.date, fast.message_id  # the clock may tick in between
    return fast, full


format_values = st.one_of(
    st.from_regex(r"[0-9A-Za-z]{1,12}", fullmatch=True),
    st.text(min_size=1, max_size=40),
    st.sampled_from(["%s", "%%", "=?utf-8?q?x?=", "x" * 90, "é", ".5", "a\r\n.b", "€" * 30]),
)


@settings(max_examples=400, deadline=None, database=None)
@given(
    code=format_values,
    name=format_values,
    sender=st.integers(0, len(SENDERS) - 1),
    usage=st.sampled_from(["Generic", "SignIn", "Register"]),
    to=st.sampled_from(RECIPIENTS),
)
@example(code="123456", name="Ann", sender=1, usage="Generic", to="user@example.org")
@example(code="123456", name="Ann", sender=2, usage="SignIn", to="用户@example.org")
@example(code="€" * 30, name="%s", sender=4, usage="Generic", to="Zoë Ünïcode <zoe@example.org>")
def test_the_message_format_writes_the_full_paths_message(
    code: str, name: str, sender: int, usage: str, to: str | list[str]
) -> None:
    # The application's name is the sender's display name unless given: given here, so that
    # non-ASCII senders' messages take the format too.
    payload = {"code": code, "user": {"name": name}, "application": {"name": "Acme"}}
    fast, full = both_of(sender, usage, payload, to)
    data = fast.as_bytes()
    assert data == full.as_bytes()
    payload = fast.wire_payload(data)
    if payload is not None:
        assert payload == dot_stuff(data)


@pytest.mark.parametrize("sender", range(len(SENDERS)))
@pytest.mark.parametrize("to", RECIPIENTS)
def test_every_sender_and_recipient_takes_the_format_with_plain_values(
    sender: int, to: str | list[str]
) -> None:
    """Not a vacuous comparison: the format path is the one taken (its payload is kept), and
    a second message of the same sender reuses the format found by identity."""
    for usage in ("Generic", "SignIn"):
        for code in ("424242", "777777"):
            payload = {"code": code, "user": {"name": "Ann"}, "application": {"name": "Acme"}}
            fast, full = both_of(sender, usage, payload, to)
            assert fast._wire is not None  # every value printable ASCII
            data = fast.as_bytes()
            assert data == full.as_bytes()
            assert fast._from_format(fast._wire, fast.needs_smtputf8) == data
            assert fast.wire_payload(data) == dot_stuff(data)


@settings(max_examples=300)
@given(
    fixed=st.lists(st.text(alphabet=st.sampled_from("%sa\r\n.é<>")), min_size=1, max_size=8),
    values=st.data(),
)
@example(fixed=["a%s", "%%", "%"], values=None)
def test_a_cut_format_joins_as_the_format_formats(fixed: list[str], values: Any) -> None:
    """The message format's frame (`cut_format`) filled with one join equals `%` formatting of
    the same text, `%` in the fixed text (escaped as `%%`, `%%s` among them) included."""
    from smtp_connector.compose.wire import cut_format

    text = "%s".join(piece.replace("%", "%%") for piece in fixed)
    holes = len(fixed) - 1
    fills = (
        [f"v{index}%s" for index in range(holes)]
        if values is None
        else values.draw(st.lists(st.text(), min_size=holes, max_size=holes))
    )
    frame = list(cut_format(text))
    assert frame[0::2] == fixed and frame[1::2] == [None] * holes
    frame[1::2] = fills
    assert "".join(frame) == text % tuple(fills)  # type: ignore[arg-type]
