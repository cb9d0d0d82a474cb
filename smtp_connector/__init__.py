"""smtp-connector: send verification-code emails over SMTP, Logto-config compatible.

The stages, one subpackage each, imports running downhill only:
config → compose (templates, MIME) → signing → delivery (pool, failover); presets beside config;
`SmtpConnector` in `connector.py` ties them together; store, queue, server and cli sit above.

The library writes nothing to stdout or stderr itself: runtime events go to `logging` (logger
`smtp_connector`), mistakes found while loading a config to Python `warnings`.

Names are loaded on first use, so `import smtp_connector.config` (or the CLI's `--help`) does
not pull in delivery, signing or the SMTP client.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .lazy import lazy_names

# A library logs and never prints: without this, Python's last-resort handler would write our
# warnings (a retried attempt, say) to stderr in apps that configured no logging. With it, the
# records reach whatever handlers the app configured, and nothing else (`logger: true` adds one).
logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from .compose.message import RenderedEmail
    from .compose.provider import TemplateProvider
    from .config import EmailTemplate, SmtpConfig
    from .connector import SendRequest, SmtpConnector
    from .delivery.backends import OUTBOX, OutboxMessage
    from .errors import Cause, ConfigWarning, ConnectorError, ErrorCode, TemplateWarning
    from .presets import Preset, get_preset, list_presets
    from .results import SendResult
    from .usage import ContentType, UsageType

_HOMES = {
    "OUTBOX": ".delivery.backends",
    "Cause": ".errors",
    "ConfigWarning": ".errors",
    "ConnectorError": ".errors",
    "ContentType": ".usage",
    "EmailTemplate": ".config",
    "ErrorCode": ".errors",
    "OutboxMessage": ".delivery.backends",
    "Preset": ".presets",
    "RenderedEmail": ".compose.message",
    "SendRequest": ".connector",
    "SendResult": ".results",
    "SmtpConfig": ".config",
    "SmtpConnector": ".connector",
    "TemplateProvider": ".compose.provider",
    "TemplateWarning": ".errors",
    "UsageType": ".usage",
    "get_preset": ".presets",
    "list_presets": ".presets",
}

__all__ = [
    "OUTBOX",
    "Cause",
    "ConfigWarning",
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
    "TemplateProvider",
    "TemplateWarning",
    "UsageType",
    "get_preset",
    "list_presets",
]
__version__ = "0.1.0"

__getattr__, __dir__ = lazy_names(__name__, _HOMES)
