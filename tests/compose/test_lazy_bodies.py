"""A message sent through a shape's wire skeleton fills its text and HTML only when they are
read (compose/wire.py `WireFill`, compose/message.py `rendered_email`): whoever reads them —
a hook, the file or console backend, a test — gets what the full path renders, the email
compares, copies and replaces like one built by `RenderedEmail(...)`, and its bytes are the
same whether they were read first, later, never, or replaced."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtp_connector import RenderedEmail, SmtpConnector
from smtp_connector.compose import message
from smtp_connector.compose.message import rendered_email

BASE: dict[str, Any] = {"host": "smtp.example.com", "fromEmail": "Acme <noreply@example.com>"}
TEMPLATES = [
    {
        "usageType": "Generic",
        "subject": "{{ code }} for {{ user.name }}",
        "textContent": "Your code: {{ code }}\n{{ user.name }}\n",
        "htmlContent": "<p>{{ code }}</p><p>{{ user.name }} &amp; co</p>",
    },
]
LAZY = SmtpConnector(BASE | {"templates": TEMPLATES})
FULL = SmtpConnector(BASE | {"templates": TEMPLATES, "composeCache": False})
INIT_FIELDS = [f.name for f in dataclasses.fields(RenderedEmail) if f.init]


@pytest.fixture(scope="module", autouse=True)
def compose_path() -> str:
    """This module compares the two paths itself (overrides the conftest's parametrisation)."""
    return "shape"


@pytest.fixture(autouse=True)
def _fixed_tokens() -> Iterator[None]:
    """One Message-ID, boundary and Date for every email, so whole messages compare."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(message, "unique_token", lambda: "fixedtoken")
        patch.setattr(message, "_date_header", lambda: "Sun, 06 Dec 2026 12:00:00 +0000")
        yield


def render(connector: SmtpConnector, payload: dict[str, Any]) -> RenderedEmail:
    email = connector.render("Generic", payload, "en", to="user@example.org")
    email.message_id = "<fixed@example.com>"  # its seconds are the clock's
    return email


def eager(email: RenderedEmail) -> RenderedEmail:
    """The same email through the dataclass's `__init__`, every field read."""
    return RenderedEmail(**{name: getattr(email, name) for name in INIT_FIELDS})


values = st.one_of(
    st.from_regex(r"[0-9A-Za-z]{1,12}", fullmatch=True),
    st.text(max_size=20),
    st.sampled_from(["&<>\"'", "x" * 80, "é", ".5", "a\nb"]),
)


@settings(max_examples=200, deadline=None, database=None)
@given(code=values, name=values, read_first=st.booleans())
@example(code="123456", name="Ann", read_first=False)
def test_lazy_bodies_read_as_the_full_paths_and_send_the_same_bytes(
    code: str, name: str, read_first: bool
) -> None:
    payload = {"code": code, "user": {"name": name}}
    lazy, full = render(LAZY, payload), render(FULL, payload)
    if read_first:  # read before the bytes are composed, or only after
        assert (lazy.text, lazy.html) == (full.text, full.html)
    assert lazy.as_bytes() == full.as_bytes()
    assert (lazy.subject, lazy.text, lazy.html) == (full.subject, full.text, full.html)
    assert lazy == full and repr(lazy) == repr(full)
    assert public(dataclasses.asdict(lazy)) == public(dataclasses.asdict(full))


def public(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields a caller reads (the private ones hold each path's own caches)."""
    return {name: value for name, value in fields.items() if not name.startswith("_")}


def test_a_message_only_sent_never_fills_its_parts() -> None:
    email = render(LAZY, {"code": "424242", "user": {"name": "Ann"}})
    assert email._wire is not None and email._text is message._Lazy.WIRE
    data = email.as_bytes()
    assert email.wire_payload(data) is not None  # the skeleton's message, dot-stuffed aside
    assert email._wire.text_filled is None and email._wire.html_filled is None
    assert email.text.startswith("Your code: 424242\n")  # filled on the first read, then kept
    assert email.text is email._wire.text_filled and email._text is email.text


@pytest.mark.parametrize("replaced", ["text", "html"])
def test_a_part_replaced_after_rendering_is_the_one_sent(replaced: str) -> None:
    payload = {"code": "424242", "user": {"name": "Ann"}}
    lazy, full = render(LAZY, payload), render(FULL, payload)
    for email in (lazy, full):
        setattr(email, replaced, "Replaced part\n")
    assert lazy.as_bytes() == full.as_bytes()
    assert b"Replaced part" in lazy.as_bytes()
    assert lazy.wire_payload(lazy.as_bytes()) is None  # the general path wrote it


def test_copies_and_replacements_keep_the_skeletons_message() -> None:
    payload = {"code": "424242", "user": {"name": "Ann"}}
    lazy, full = render(LAZY, payload), render(FULL, payload)
    copied = copy.copy(lazy)
    replaced = dataclasses.replace(lazy, subject="Other", _bytes=None)
    full.subject = "Other"
    assert copied.as_bytes() == lazy.as_bytes()
    assert replaced.as_bytes() == full.as_bytes()
    assert replaced.wire_payload(replaced.as_bytes()) is not None
    assert copied == eager(lazy) and vars(copied) == vars(lazy)


def test_rendered_email_is_the_dataclasss_instance() -> None:
    """Without a wire fill (and with one, once read) the fields are `__init__`'s, one by one."""
    for payload in ({"code": "424242", "user": {"name": "Ann"}}, {"code": "1\t2"}):
        lazy = render(LAZY, payload)
        lazy.text, lazy.html  # noqa: B018  # read: now in the instance like any field
        assert vars(lazy) == vars(eager(lazy))
    sender = LAZY._senders.default_from
    plain = rendered_email("Hi", "text\n", None, sender, (), None, (), "SignIn", "en")
    made = RenderedEmail("Hi", "text\n", None, sender, usage_type="SignIn", locale="en")
    made.message_id = plain.message_id
    assert vars(plain) == vars(made) and plain == made


def test_a_pickled_lazy_email_reads_and_sends_as_before() -> None:
    email = render(LAZY, {"code": "424242", "user": {"name": "Ann"}})
    again = pickle.loads(pickle.dumps(email))
    assert again._text is message._Lazy.WIRE  # still the wire fill's after the round trip
    assert again.as_bytes() == email.as_bytes() and again == email
