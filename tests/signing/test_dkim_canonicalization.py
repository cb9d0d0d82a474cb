"""`dkim.canonicalization`: relaxed/relaxed by default, simple/simple and both mixes, each
verified by dkimpy's verifier, directly and through a local SMTP server; and each half behaving
as RFC 6376 §3.4 says when a relay touches the header block or the body."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from signing_helpers import (
    CODE,
    DkimKey,
    _Recorder,
    _server_config,
    dkim_options,
    dns_stub,
    make_email,
    signature_tags,
    verify_all,
)

from smtp_connector.config import SmtpConfig
from smtp_connector.connector import SmtpConnector
from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.signing.dkim import DkimSigner

MODES = ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"]


def test_default_is_relaxed_relaxed(rsa_key: DkimKey) -> None:
    signed = DkimSigner([dkim_options(rsa_key)]).sign(make_email().as_bytes())
    assert signature_tags(signed)["c"] == "relaxed/relaxed"


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_verifies_with_dkimpy(rsa_key: DkimKey, mode: str) -> None:
    signed = DkimSigner([dkim_options(rsa_key, canonicalization=mode)]).sign(
        make_email().as_bytes()
    )
    assert signature_tags(signed)["c"] == mode
    assert verify_all(signed, dns_stub(rsa_key)) == [True]


@pytest.mark.parametrize("mode", MODES)
async def test_each_mode_verifies_after_delivery(
    smtp_server: tuple[int, _Recorder], rsa_key: DkimKey, mode: str
) -> None:
    port, recorder = smtp_server
    dkim = {"domainName": "example.com", "keySelector": "s1", "privateKey": rsa_key.pem}
    config = _server_config(port, dkim=dkim | {"canonicalization": mode})
    async with SmtpConnector(config) as connector:
        await connector.send(to="user@example.org", usage_type="SignIn", payload={"code": CODE})
        await connector.send(
            to='"Ünïcödé Ñame" <other@example.org>', usage_type="Register", payload={"code": "1"}
        )
    assert len(recorder.contents) == 2
    for received in recorder.contents:
        assert signature_tags(received)["c"] == mode
        assert verify_all(received, dns_stub(rsa_key)) == [True]


def test_keys_with_different_modes_sign_together(rsa_key: DkimKey) -> None:
    other = DkimKey("s2", rsa_key.pem, rsa_key.record)
    signer = DkimSigner(
        [
            dkim_options(rsa_key, canonicalization="simple/simple"),
            dkim_options(other, canonicalization="relaxed/relaxed"),
        ]
    )
    signed = signer.sign(make_email().as_bytes())
    assert [signature_tags(signed, i)["c"] for i in (0, 1)] == ["simple/simple", "relaxed/relaxed"]
    assert verify_all(signed, dns_stub(rsa_key, other)) == [True, True]


def _refold_subject(data: bytes) -> bytes:
    """What a relay may do to a header: re-fold it and change its whitespace."""
    return data.replace(b"Subject: Your sign-in code", b"Subject:  Your\r\n\tsign-in   code", 1)


def _pad_body_line(data: bytes) -> bytes:
    """What a relay may do to a body: trailing whitespace on a line."""
    return data.replace(f"Your code is {CODE}.\r\n".encode(), f"Your code is {CODE}. \r\n".encode())


@pytest.mark.parametrize(
    ("change", "survives"),
    [
        (_refold_subject, {"relaxed/relaxed": True, "relaxed/simple": True}),
        (_pad_body_line, {"relaxed/relaxed": True, "simple/relaxed": True}),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_relaxed_halves_survive_relays_simple_halves_do_not(
    rsa_key: DkimKey,
    mode: str,
    change: Callable[[bytes], bytes],
    survives: dict[str, bool],
) -> None:
    email = make_email(html=None)  # one text/plain part: the body line is easy to find
    signed = DkimSigner([dkim_options(rsa_key, canonicalization=mode)]).sign(email.as_bytes())
    changed = change(signed)
    assert changed != signed
    assert verify_all(changed, dns_stub(rsa_key)) == [survives.get(mode, False)]


@pytest.mark.parametrize("value", ["Simple/Simple", " relaxed/simple "])
def test_spelling_is_forgiving(value: str) -> None:
    dkim = {"domainName": "example.com", "keySelector": "s1", "privateKey": "k.pem"}
    config = SmtpConfig.model_validate(_server_config(25, dkim=dkim | {"canonicalization": value}))
    assert config.dkim is not None and not isinstance(config.dkim, list)
    assert config.dkim.canonicalization == value.strip().lower()


@pytest.mark.parametrize("value", ["nowsp/relaxed", "relaxed/relaxed/x", ""])
def test_unknown_modes_are_invalid_config(value: str) -> None:
    dkim = {"domainName": "example.com", "keySelector": "s1", "privateKey": "k.pem"}
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(_server_config(25, dkim=dkim | {"canonicalization": value}))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "canonicalization`" in info.value.message
    assert "'simple/relaxed'" in info.value.message  # the accepted values are listed


@pytest.mark.parametrize("value", ["relaxed", "simple"])
def test_half_modes_ask_for_both_halves(value: str) -> None:
    """RFC 6376 reads `c=relaxed` as relaxed/simple; the config asks rather than guess."""
    dkim = {"domainName": "example.com", "keySelector": "s1", "privateKey": "k.pem"}
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(_server_config(25, dkim=dkim | {"canonicalization": value}))
    assert "write both halves" in info.value.message
    assert f"'{value}/simple'" in info.value.message
