"""DKIM's per-shape caches (signing/dkim_shapes.py) give exactly what dkimpy computes.

The signer canonicalizes body lines and header fields once and reuses them, and folds each
key's `DKIM-Signature` once per list of field names with holes for t= and bh=. Each of these is
held to dkimpy's own functions on generated input, with the caches warm and cold; and whole
messages signed by a warm signer equal a fresh signer's bytes (both signatures are
deterministic) and verify with dkimpy's verifier.
"""

from __future__ import annotations

import dkim.canonicalization as dkimpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signing_helpers import DkimKey, dkim_options, dns_stub, make_email, verify_all

from smtp_connector.addresses import parse_address
from smtp_connector.compose.message import RenderedEmail
from smtp_connector.signing.common import HeaderField, split_message
from smtp_connector.signing.dkim import DkimSigner
from smtp_connector.signing.dkim_shapes import MAX_ENTRIES, Canonicalizer

MODES = [b"relaxed/relaxed", b"simple/simple", b"relaxed/simple", b"simple/relaxed"]

# Lines made of what changes canonical forms: spaces, tabs, lone CR and LF, text.
_pieces = st.sampled_from([b" ", b"  ", b"\t", b" \t ", b"a", b"code 123", b"\r", b"\n", b""])
_line = st.lists(_pieces, max_size=8).map(b"".join)
_body = st.lists(_line, max_size=12).map(b"\r\n".join)
_value_pieces = [b" ", b"\t", b"x", b"Acme", b"\r\n ", b"\r\n\t", b"  y", b"\n", b"\r"]
_value = st.lists(st.sampled_from(_value_pieces), max_size=8).map(b"".join)


def _policy(mode: bytes) -> dkimpy.CanonicalizationPolicy:
    return dkimpy.CanonicalizationPolicy.from_c_value(mode)


@settings(max_examples=300, deadline=None)
@given(mode=st.sampled_from(MODES), bodies=st.lists(_body, min_size=1, max_size=4))
def test_bodies_canonicalize_as_dkimpy_does(mode: bytes, bodies: list[bytes]) -> None:
    policy = _policy(mode)
    canonicalizer = Canonicalizer(policy)
    for body in [*bodies, *bodies]:  # the second round from a warm cache
        assert canonicalizer.body(body) == policy.canonicalize_body(body)


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    values=st.lists(_value, min_size=1, max_size=6),
    name=st.sampled_from([b"Subject", b"X-Code ", b"to"]),
)
def test_header_fields_canonicalize_as_dkimpy_does(
    mode: bytes, values: list[bytes], name: bytes
) -> None:
    policy = _policy(mode)
    canonicalizer = Canonicalizer(policy)
    fields = [HeaderField(name, name + b":" + value) for value in values]
    expected = [
        n + b":" + v for n, v in policy.canonicalize_headers([(f.name, f.value) for f in fields])
    ]
    assert canonicalizer.fields(fields) == expected
    assert canonicalizer.fields(fields) == expected  # warm


def test_a_full_cache_starts_again_and_stays_right() -> None:
    policy = _policy(b"relaxed/relaxed")
    canonicalizer = Canonicalizer(policy)
    for round_ in range(3):
        body = b"\r\n".join(b"line  %d\t " % (round_ * MAX_ENTRIES + i) for i in range(3000))
        assert canonicalizer.body(body) == policy.canonicalize_body(body)


def _email(subject: str, text: str, to: str) -> bytes:
    return RenderedEmail(
        subject=subject,
        text=text,
        html=f"<p>{text}</p>\n<p>  indented  </p>",
        from_address=parse_address("Acme <noreply@example.com>"),
        to=(parse_address(to),),
    ).as_bytes()


@pytest.mark.parametrize("mode", [m.decode() for m in MODES])
def test_warm_signatures_equal_fresh_ones_and_verify(
    rsa_key: DkimKey, ed_key: DkimKey, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same message signed by a signer that has seen many others of its shape, and by a
    new one, in the same second: the same bytes; dkimpy verifies both keys' signatures."""
    monkeypatch.setattr("smtp_connector.signing.dkim.time.time", lambda: 1_800_000_000.0)
    options = [dkim_options(rsa_key, canonicalization=mode), dkim_options(ed_key)]
    warm = DkimSigner(options)
    for i in range(20):
        warm.sign(_email(f"{i:06d} is your code", f"Code  {i:06d}\t", f"u{i}@example.org"))
    message = _email("424242 is your code", "Code  424242 \t", "last@example.org")
    signed = warm.sign(message)
    assert signed == DkimSigner(options).sign(message)
    assert verify_all(signed, dns_stub(rsa_key, ed_key)) == [True, True]


@settings(max_examples=40, deadline=None)
@given(
    subject=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=40),
    text=st.text(st.sampled_from(" \t\nab7é"), max_size=80),
)
def test_generated_messages_verify_after_a_warm_signer(
    ed_key: DkimKey, subject: str, text: str
) -> None:
    signer = _SIGNERS.setdefault(ed_key.selector, DkimSigner([dkim_options(ed_key)]))
    signer.sign(make_email().as_bytes())
    signed = signer.sign(_email(subject or "code", text or "x", "user@example.org"))
    assert verify_all(signed, dns_stub(ed_key)) == [True]
    fields, _ = split_message(signed)
    assert fields[0].name == b"DKIM-Signature"


_SIGNERS: dict[str, DkimSigner] = {}  # one warm signer across the generated examples
