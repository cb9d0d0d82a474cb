"""The config's rules that later stages call and that need no pydantic.

A first send loads compose and delivery, which call these while sending; if they lived beside
the models (base, templates, options), importing them would import pydantic, about 340 million
instructions of a cold start. The models import them from here, so each rule is written once.
"""

from __future__ import annotations

import ssl
from typing import Literal

from ..errors import ConnectorError, ErrorCode
from ..lazy import LazyPattern

# `{{ x }}`, `{% … %}` or the `<<x>>` shorthand: a value rendered per message, as Logto renders
# `replyTo: "{{user.primaryEmail}}"`; anything else is a literal address, checked at load.
_PLACEHOLDER = LazyPattern(r"\{\{|\{%|<<\s*[A-Za-z_]")

TlsVersion = Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]


def invalid_config(summary: str, *, details: list[str] | None = None) -> ConnectorError:
    """The one shape of a config error, also used by later stages that check their own options
    (signers check key material when they are built)."""
    return ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"Invalid SMTP config: {summary}",
        retryable=False,
        details=details if details is not None else [summary],
    )


def is_templated(value: str) -> bool:
    """True when `value` has a placeholder or tag, so it is rendered per message."""
    return _PLACEHOLDER.search(value) is not None


def tls_version(name: str | None) -> ssl.TLSVersion | None:
    """Map Node's `minVersion` names onto `ssl.TLSVersion`."""
    mapping = {
        "TLSv1": ssl.TLSVersion.TLSv1,
        "TLSv1.1": ssl.TLSVersion.TLSv1_1,
        "TLSv1.2": ssl.TLSVersion.TLSv1_2,
        "TLSv1.3": ssl.TLSVersion.TLSv1_3,
    }
    return mapping.get(name) if name else None
