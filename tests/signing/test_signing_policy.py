"""The signing policy: S/MIME then DKIM, and what a failure means (`dontSendOnError`); no key,
password or message content in any error, repr or log."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from signing_helpers import (
    CODE,
    PASSWORD,
    DkimKey,
    Pki,
    _config,
    _config_with_brief_certificate,
    _seconds_until_expired,
    assert_no_secrets,
    make_email,
    smime_options,
)

from smtp_connector.config import SmtpConfig
from smtp_connector.connector import SmtpConnector
from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.signing.policy import build_signers, sign_message
from smtp_connector.signing.smime import SmimeSigner

# --- the dontSendOnError policy ----------------------------------------------------------------


@pytest.mark.parametrize("dont_send", [True, False])
def test_key_file_broken_before_the_connector_is_built_is_invalid_config(
    pki: Pki, tmp_path: Path, dont_send: bool
) -> None:
    key_path = tmp_path / "smime-key.pem"
    key_path.write_text(pki.signer_key_encrypted)
    config = SmtpConfig.model_validate(
        _config(
            smime={
                "certificate": pki.signer_cert,
                "privateKey": str(key_path),
                "privateKeyPassword": PASSWORD,
                "dontSendOnError": dont_send,
            }
        )
    )
    key_path.write_text(pki.signer_key_encrypted[:200])  # rotated badly, truncated…
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(config)
    assert info.value.code is ErrorCode.INVALID_CONFIG and "smime" in info.value.message
    assert_no_secrets(str(info.value), pki.signer_key_encrypted, passwords=(PASSWORD,))


def test_expired_certificate_with_dont_send_on_error_refuses(pki: Pki) -> None:
    config = _config_with_brief_certificate(pki, dont_send=True)
    signers = build_signers(config)
    time.sleep(_seconds_until_expired(config))
    assert config.smime is not None and config.smime.dont_send_on_error is True
    with pytest.raises(ConnectorError) as info:
        sign_message(make_email().as_bytes(), signers, config.smime.dont_send_on_error)
    assert info.value.code is ErrorCode.SIGNING_FAILED
    assert info.value.retryable is False
    assert "S/MIME" in info.value.message and "expired" in info.value.message
    assert_no_secrets(str(info.value), pki.signer_key, passwords=(PASSWORD,))


def test_expired_certificate_without_dont_send_on_error_sends_unsigned(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config_with_brief_certificate(pki, dont_send=False)
    signers = build_signers(config)
    time.sleep(_seconds_until_expired(config))
    raw = make_email().as_bytes()
    with caplog.at_level("WARNING", logger="smtp_connector.signing"):
        result = sign_message(raw, signers, smime_dont_send_on_error=False)
    assert result == raw
    warnings = [r for r in caplog.records if r.name == "smtp_connector.signing"]
    assert any("unsigned" in r.getMessage() for r in warnings)
    assert_no_secrets(caplog.text, pki.signer_key, passwords=(PASSWORD,))


class _ExplodingSigner:
    """A signer failing with third-party-style text that quotes the message (the code)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def sign(self, message: bytes) -> bytes:
        raise RuntimeError(f"cannot sign {message[-40:]!r}")


@pytest.mark.parametrize("name", ["smime", "dkim"])
def test_failure_reports_never_quote_the_message(name: str) -> None:
    raw = make_email(html=None).as_bytes()
    with pytest.raises(ConnectorError) as info:
        sign_message(raw, [_ExplodingSigner(name)], smime_dont_send_on_error=True)
    assert info.value.code is ErrorCode.SIGNING_FAILED
    assert "RuntimeError" in info.value.message and CODE not in str(info.value)


def test_dkim_failure_refuses_even_when_smime_may_fail(
    pki: Pki, rsa_key: DkimKey, tmp_path: Path
) -> None:
    signers = [SmimeSigner(smime_options(pki)), _ExplodingSigner("dkim")]
    with pytest.raises(ConnectorError) as info:
        sign_message(make_email().as_bytes(), signers, smime_dont_send_on_error=False)
    assert info.value.code is ErrorCode.SIGNING_FAILED and "DKIM" in info.value.message
