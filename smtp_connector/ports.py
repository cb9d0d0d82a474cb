"""Well-known SMTP submission ports: shared by the config (implicit TLS by port) and the provider
presets (which check each port's TLS mode), so neither has to import the other for them."""

from __future__ import annotations

IMPLICIT_TLS_PORTS = frozenset({465, 2465})
"""Ports that speak TLS from the first byte (`secure` defaults to true there)."""

DEFAULT_SUBMISSION_PORT = 587
"""STARTTLS submission (RFC 6409): the port used when neither `port` nor `secure` is set."""

DEFAULT_IMPLICIT_TLS_PORT = 465
"""Submission over implicit TLS (RFC 8314): the port used when only `secure: true` is set."""
