"""Configuration: pydantic models for Logto's connector JSON and our additions, file/env loading.
Imports only the shared vocabulary at the package root (errors, addresses, usage, ports)."""

from .base import ConfigModel, Secret, config_error, invalid_config
from .headers import validate_custom_headers
from .models import ServerConfig, ServerSettings, SmtpConfig
from .options import (
    GOOGLE_MAIL_SCOPE,
    GOOGLE_TOKEN_URL,
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
    tls_version,
    token_url_problem,
)
from .templates import EmailTemplate

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
    "tls_version",
    "token_url_problem",
    "validate_custom_headers",
]
