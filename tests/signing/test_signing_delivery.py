"""Signed mail through the connector to a real local SMTP server, verified as a receiver would."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from signing_helpers import (
    CODE,
    DOMAIN,
    PASSWORD,
    DkimKey,
    Pki,
    _config_with_brief_certificate,
    _Recorder,
    _seconds_until_expired,
    _server_config,
    dns_stub,
    needs_nacl,
    parsed,
    smime_verifies,
    verify_all,
)

from smtp_connector.connector import SmtpConnector
from smtp_connector.errors import ConnectorError, ErrorCode


@pytest.mark.parametrize(
    "algorithms", [("rsa",), pytest.param(("rsa", "ed25519"), marks=needs_nacl)]
)
async def test_dkim_signed_mail_received_by_local_server_verifies(
    smtp_server: tuple[int, _Recorder],
    rsa_key: DkimKey,
    ed_key: DkimKey,
    algorithms: tuple[str, ...],
) -> None:
    port, recorder = smtp_server
    keys = [rsa_key, ed_key][: len(algorithms)]
    dkim_config = [
        {"domainName": DOMAIN, "keySelector": key.selector, "privateKey": key.pem} for key in keys
    ]
    async with SmtpConnector(_server_config(port, dkim=dkim_config)) as connector:
        await connector.send(to="user@example.org", usage_type="SignIn", payload={"code": CODE})
        await connector.send(to="other@example.org", usage_type="Register", payload={"code": "1"})
    assert len(recorder.contents) == 2
    dns = dns_stub(*keys)
    for received in recorder.contents:
        assert verify_all(received, dns) == [True] * len(keys)
    assert CODE.encode() in recorder.contents[0]
    tampered = recorder.contents[0].replace(CODE.encode(), b"000000")
    assert tampered != recorder.contents[0]
    assert verify_all(tampered, dns) == [False] * len(keys)


async def test_smime_and_dkim_mail_received_by_local_server_verifies(
    smtp_server: tuple[int, _Recorder], pki: Pki, rsa_key: DkimKey, tmp_path: Path
) -> None:
    port, recorder = smtp_server
    config = _server_config(
        port,
        smime={
            "certificate": pki.signer_cert,
            "privateKey": pki.signer_key_encrypted,
            "privateKeyPassword": PASSWORD,
        },
        dkim={"domainName": DOMAIN, "keySelector": "s1", "privateKey": rsa_key.pem},
    )
    async with SmtpConnector(config) as connector:
        await connector.send(to="user@example.org", usage_type="SignIn", payload={"code": CODE})
    (received,) = recorder.contents
    assert verify_all(received, dns_stub(rsa_key)) == [True]
    assert parsed(received).get_content_type() == "multipart/signed"
    assert smime_verifies(received, pki, tmp_path)


@pytest.mark.parametrize("dont_send", [True, False])
async def test_dont_send_on_error_through_the_connector(
    smtp_server: tuple[int, _Recorder], pki: Pki, tmp_path: Path, dont_send: bool
) -> None:
    port, recorder = smtp_server
    config = _config_with_brief_certificate(pki, dont_send, base=_server_config(port))
    async with SmtpConnector(config) as connector:
        await asyncio.sleep(_seconds_until_expired(config))
        if dont_send:
            with pytest.raises(ConnectorError) as info:
                await connector.send(
                    to="user@example.org", usage_type="SignIn", payload={"code": CODE}
                )
            assert info.value.code is ErrorCode.SIGNING_FAILED
        else:
            await connector.send(to="user@example.org", usage_type="SignIn", payload={"code": CODE})
    if dont_send:
        assert recorder.contents == []
    else:
        (received,) = recorder.contents
        assert parsed(received).get_content_type() != "multipart/signed"
        assert CODE.encode() in received
