"""smtp-connector: send verification-code emails over SMTP, Logto-config compatible.

The flow, one module each: config → rendering (templates) → message (MIME) → signing →
pool/transport → server. `SmtpConnector` in `connector.py` ties them together.
"""

from .backends import OUTBOX, OutboxMessage
from .config import EmailTemplate, SmtpConfig
from .connector import SendRequest, SmtpConnector
from .errors import ConnectorError, ErrorCode
from .message import RenderedEmail
from .results import SendResult
from .usage import ContentType, UsageType


def list_presets() -> list[str]:
    """Names of the shipped provider presets (see `provider_presets/`)."""
    from .presets import list_presets as _list

    return _list()


def get_preset(name_or_alias_or_email: str):  # type: ignore[no-untyped-def]
    """The preset for a name, alias or email address (by its domain), or None."""
    from .presets import get_preset as _get

    return _get(name_or_alias_or_email)


__all__ = [
    "OUTBOX",
    "ConnectorError",
    "ContentType",
    "EmailTemplate",
    "ErrorCode",
    "OutboxMessage",
    "RenderedEmail",
    "SendRequest",
    "SendResult",
    "SmtpConfig",
    "SmtpConnector",
    "UsageType",
    "get_preset",
    "list_presets",
]
__version__ = "0.1.0"
