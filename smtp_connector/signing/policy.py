"""Message signing policy: which signers run, in which order, and what a failure means.

Order is S/MIME first, DKIM last: S/MIME rewrites the body into multipart/signed, and DKIM must
sign the bytes that actually go on the wire. Failure policy follows the config: an S/MIME
failure refuses the send (`signing_failed`) unless `smime.dontSendOnError` is false, in which case
the mail goes out unsigned with a warning (a verification code that arrives beats one that
does not); a DKIM failure always refuses, since unsigned mail from a DKIM-publishing domain
fails DMARC anyway. Messages and logs never carry key material, passwords or message content.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..addresses import parse_address
from ..config import invalid_config
from ..errors import ConnectorError, ErrorCode, secret_safe_logger
from .common import SigningFailure, file_access
from .dkim import DkimSigner
from .smime import SmimeSigner

if TYPE_CHECKING:
    from ..config.views import ConfigView

logger = secret_safe_logger("smtp_connector.signing")

SMIME = "smime"
DKIM = "dkim"
_LABELS = {SMIME: "S/MIME", DKIM: "DKIM"}


@runtime_checkable
class Signer(Protocol):
    """Anything that turns final message bytes into signed message bytes."""

    name: str

    def sign(self, message: bytes) -> bytes: ...


def build_signers(config: ConfigView) -> list[Signer]:
    """The signers the config asks for, S/MIME first then DKIM. Keys are parsed and checked here,
    once, when the connector is built: bad material is `invalid_config` naming the option, before
    the first send (the config itself checks only the shape of these options)."""
    signers: list[Signer] = []
    with file_access(not config.disable_file_access):
        if config.smime is not None:
            signers.append(_build(SMIME, lambda: _smime_signer(config)))
        if config.dkim is not None:
            signers.append(_build(DKIM, lambda: _dkim_signer(config)))
    return signers


def sign_message(
    data: bytes, signers: Sequence[Signer], smime_dont_send_on_error: bool = True
) -> bytes:
    """Apply every signer in order; raise `ConnectorError(signing_failed)` per the policy above."""
    for signer in signers:
        try:
            data = signer.sign(data)
        except Exception as exc:
            reason = _reason(exc)
            label = _LABELS.get(signer.name, signer.name)
            if signer.name == SMIME and not smime_dont_send_on_error:
                logger.warning(
                    "%s signing failed (%s); sending the message unsigned because "
                    "smime.dontSendOnError is false",
                    label,
                    reason,
                )
                continue
            raise ConnectorError(
                ErrorCode.SIGNING_FAILED,
                f"{label} signing failed ({reason}); the message was not sent",
                retryable=False,
            ) from None
    return data


def _reason(exc: Exception) -> str:
    """Our own failures explain themselves; others are named by type only, since third-party
    exception text could quote message content such as the verification code."""
    if isinstance(exc, ConnectorError):
        return exc.message
    if isinstance(exc, SigningFailure):
        return str(exc)
    return type(exc).__name__


def _build(name: str, factory: Callable[[], Signer]) -> Signer:
    """Construct a signer; its ValueError (bad key material) becomes `invalid_config`."""
    try:
        return factory()
    except ValueError as exc:
        raise invalid_config(f"`{name}`: {exc}") from None


def _smime_signer(config: ConfigView) -> Signer:
    assert config.smime is not None
    signer = SmimeSigner(config.smime)
    _warn_smime_address(signer.addresses, config.from_email)
    return signer


def _dkim_signer(config: ConfigView) -> Signer:
    assert config.dkim is not None
    signer = DkimSigner(config.dkim if isinstance(config.dkim, list) else [config.dkim])
    _warn_dkim_alignment(signer.domains, config.from_email)
    return signer


def _from_domain(from_email: str) -> tuple[str, str]:
    # The config has validated fromEmail, special-use domains included (or allowed them).
    address = parse_address(from_email, what="fromEmail", allow_special_use=True)
    return address.envelope.lower(), address.ascii_domain.lower()


def _warn_dkim_alignment(domains: Sequence[str], from_email: str) -> None:
    """DMARC passes through DKIM only when d= aligns with the From domain: say so at startup."""
    _, from_domain = _from_domain(from_email)
    aligned = any(
        from_domain == d or from_domain.endswith("." + d) or d.endswith("." + from_domain)
        for d in domains
    )
    if not aligned:
        logger.warning(
            "DKIM domain(s) %s do not align with the fromEmail domain %s; DMARC will not "
            "pass through DKIM",
            ", ".join(domains),
            from_domain,
        )


def _warn_smime_address(addresses: frozenset[str], from_email: str) -> None:
    """Mail clients mark an S/MIME signature whose certificate is not for the From address."""
    sender, _ = _from_domain(from_email)
    if addresses and sender not in addresses:
        logger.warning(
            "the S/MIME certificate is for %s, not for fromEmail %s; mail clients will flag it",
            ", ".join(sorted(addresses)),
            sender,
        )
