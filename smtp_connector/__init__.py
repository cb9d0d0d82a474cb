"""smtp-connector: send verification-code emails over SMTP, Logto-config compatible.

The flow, one module each: config → rendering (templates) → message (MIME) → signing →
pool/transport → server. `SmtpConnector` in `connector.py` ties them together.
"""

from .backends import OUTBOX, OutboxMessage
from .config import EmailTemplate, SmtpConfig
from .connector import SendRequest, SmtpConnector
from .errors import ConnectorError, ErrorCode
from .message import RenderedEmail
from .presets import Preset, get_preset, list_presets
from .results import SendResult
from .usage import ContentType, UsageType

__all__ = [
    "OUTBOX",
    "ConnectorError",
    "ContentType",
    "EmailTemplate",
    "ErrorCode",
    "OutboxMessage",
    "Preset",
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
