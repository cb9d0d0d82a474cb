"""Configuration: pydantic models for Logto's connector JSON and our additions, file/env loading.
Imports only the shared vocabulary at the package root (errors, addresses, usage, ports).

Names load from their module on first use (PEP 562): the service's own models need only
`ConfigModel` and `EmailTemplate`, so `serve` starts without building `SmtpConfig` and the
option models; the first definition it validates builds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:
    from .base import ConfigModel, Secret, config_error
    from .headers import validate_custom_headers
    from .models import ServerConfig, ServerSettings, SmtpConfig
    from .options import (
        AuthConfig,
        DkimOptions,
        HealthOptions,
        PoolOptions,
        RateLimitOptions,
        RetryOptions,
        SmimeOptions,
        ThrottleOptions,
        TlsOptions,
        is_loopback_name,
        token_url_problem,
    )
    from .plain import invalid_config, is_templated, tls_version
    from .rules import GOOGLE_MAIL_SCOPE, GOOGLE_TOKEN_URL
    from .templates import EmailTemplate

_NAMES = {
    ".base": ("ConfigModel", "Secret", "config_error"),
    ".headers": ("validate_custom_headers",),
    ".models": ("ServerConfig", "ServerSettings", "SmtpConfig"),
    ".options": (
        "AuthConfig",
        "DkimOptions",
        "HealthOptions",
        "PoolOptions",
        "RateLimitOptions",
        "RetryOptions",
        "SmimeOptions",
        "ThrottleOptions",
        "TlsOptions",
        "is_loopback_name",
        "token_url_problem",
    ),
    ".plain": ("invalid_config", "is_templated", "tls_version"),
    ".rules": ("GOOGLE_MAIL_SCOPE", "GOOGLE_TOKEN_URL"),
    ".templates": ("EmailTemplate",),
}
_HOMES = {name: home for home, names in _NAMES.items() for name in names}

__all__ = [
    "GOOGLE_MAIL_SCOPE",
    "GOOGLE_TOKEN_URL",
    "AuthConfig",
    "ConfigModel",
    "DkimOptions",
    "EmailTemplate",
    "HealthOptions",
    "PoolOptions",
    "RateLimitOptions",
    "RetryOptions",
    "Secret",
    "ServerConfig",
    "ServerSettings",
    "SmimeOptions",
    "SmtpConfig",
    "ThrottleOptions",
    "TlsOptions",
    "config_error",
    "invalid_config",
    "is_loopback_name",
    "is_templated",
    "tls_version",
    "token_url_problem",
    "validate_custom_headers",
]


__getattr__, __dir__ = lazy_names(__name__, _HOMES)
